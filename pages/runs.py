"""The Runs page: this project's training runs first (or all of this owner's), curves overlaid, architectures
compared, and any run reopened in the editor with its trained weights."""

import datetime

import streamlit as st

from components import charts, state
from components.messages import flash
from components.navigation import ensure_navigation
from components.owner import current_owner
from components.text import md_escape

ensure_navigation()

store = state.get_store()
me = current_owner()
st.subheader("Runs")
store.mark_interrupted()  # runs of a server that has died since (another server may share the file)
scope = st.segmented_control("Show", ["This project", "All my projects"], default="This project", key="runs_scope")
everywhere = scope == "All my projects"
if everywhere:
    runs = store.list_runs(None, limit=200, owner=me)
else:  # someone else's project (read-only): its owner's runs of it, to look at
    from components.training_panel import run_owner

    runs = store.list_runs(state.project_id(), limit=200, owner=run_owner())
if not runs:
    st.info("No runs here yet: train a model on the Train page." if not everywhere else
            "You have no runs yet: train a model on the Train page.")
    st.stop()
projects = {p["id"]: p["name"] for p in store.list_projects(limit=1000, owner=me)} if everywhere else {}


def _when(t: float) -> str:
    return datetime.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")


def _search_of(run: dict) -> str:
    """"trial 3: dense.units=32" for a search's trial (its settings carry the search), else empty."""
    tag = (run.get("settings") or {}).get("search")
    if not isinstance(tag, dict):
        return ""
    values = tag.get("values") if isinstance(tag.get("values"), dict) else {}
    return f"trial {tag.get('trial')}: " + ", ".join(f"{k}={charts.json_text(v)}" for k, v in values.items())


def _label(run: dict) -> str:
    return f"{run['name']} on {run['dataset']}, {_when(run['created_at'])} ({run['id'][:6]})"


table = {
    "run": [r["id"][:6] for r in runs],
    "model": [r["name"] for r in runs],
    **({"project": [projects.get(r["project_id"], "(deleted)" if r["project_id"] else "") for r in runs]}
       if everywhere else {}),
    "data": [r["dataset"] for r in runs],
    "status": [r["status"] for r in runs],
    "started": [_when(r["created_at"]) for r in runs],
    "test loss": [(r.get("final_metrics") or {}).get("loss") for r in runs],
    "test accuracy": [(r.get("final_metrics") or {}).get("accuracy") for r in runs],
    "note": [r.get("message") or "" for r in runs],
}
if any(_search_of(r) for r in runs):
    table["search"] = [_search_of(r) for r in runs]
event = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="multi-row", key=f"runs_table:{scope}",
                     column_config={"test loss": st.column_config.NumberColumn(format="%.4f"),
                                    "test accuracy": st.column_config.NumberColumn(format="%.4f")})
rows = event.selection.rows if event and event.selection else []
if not rows:
    rows = list(range(min(2, len(runs))))
    st.caption("Select rows to compare their curves and architectures; the newest are shown.")
chosen = []
for i in rows:
    run = store.get_run(runs[i]["id"])
    if run is not None:
        chosen.append({**run, "label": _label(run)})
names = sorted({k for r in chosen for e in r["epochs"] for k in e["metrics"]
                if k not in ("epoch", "partial") and not k.startswith("val_")}, key=lambda n: (n != "loss", n))

curves, compare = st.tabs(["Curves", "Compare architectures"])
with curves:
    if not names:
        st.caption("These runs have no finished epoch yet.")
    cols = st.columns(2)
    for n, name in enumerate(names[:4]):
        with cols[n % 2]:
            st.plotly_chart(charts.overlay(chosen, name), key=f"overlay:{name}")
with compare:
    if len(chosen) == 2:
        from components.compare_panel import render_compare

        render_compare(chosen[1], chosen[0])  # older first: what changed from it to the newer one
    else:
        st.caption("Select exactly two runs in the table to compare their layers and settings.")


def _open_in_editor(run: dict) -> None:
    """The run's graph, with its trained weights, as a new project."""
    from builder.data import datachoice
    from components.training_panel import WEIGHTS, WEIGHTS_FROM, stored_model

    graph = run["graph"]
    if datachoice.in_graph(graph) is None:  # a run from before runs named their data in their graph
        graph = datachoice.into_graph(graph, datachoice.named(run.get("dataset")))
    model = stored_model(run)
    try:
        graph = graph.set_name(f"{graph.name} run {run['id'][:6]}")
    except Exception:  # noqa: BLE001 - a name at its length limit: keep it
        pass
    state.new_project(graph, weights_run=run["id"] if model is not None else None)
    if model is not None:
        st.session_state[WEIGHTS] = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}
        st.session_state[WEIGHTS_FROM] = run["id"]
        flash("success", f"Opened run {run['id'][:6]} in the editor as a new project, with its trained "
                         "weights: training, freezing and export start from them.")
    else:
        flash("warning", f"Opened run {run['id'][:6]} in the editor as a new project. Its trained model was "
                         "not saved (the run did not finish), so the layers start untrained.")


def _number(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _settings_rows(settings: dict) -> list[tuple[str, str]]:
    """A run's stored settings as (label, value), in the Train page's words; the defaults of the rarely changed
    ones are left out, and anything not known here is listed by its name."""
    s, comp = dict(settings or {}), (settings or {}).get("compile")
    comp = dict(comp) if isinstance(comp, dict) else {}
    s.pop("compile", None)
    rows = []
    for key, label in (("optimizer", "Optimizer"), ("learning_rate", "Learning rate"), ("loss", "Loss")):
        if key in comp:
            rows.append((label, _number(comp.pop(key))))
    if comp.pop("from_logits", False) is True and rows and rows[-1][0] == "Loss":
        rows[-1] = ("Loss", rows[-1][1] + " (from logits)")
    if isinstance(comp.get("metrics"), list):
        rows.append(("Metrics", ", ".join(map(str, comp.pop("metrics"))) or "none"))
    for key, label in (("epochs", "Epochs"), ("batch_size", "Batch size"), ("validation_split", "Validation split")):
        if key in s:
            rows.append((label, _number(s.pop(key))))
    if "patience" in s:
        p = s.pop("patience")
        rows.append(("Early stopping", "off" if not p else f"after {p} epochs without a better validation loss"))
    if "seed" in s:
        rows.append(("Seed", _number(s.pop("seed"))))
    for key, label, default in (("strategy", "Strategy", "auto"), ("mixed_precision", "Mixed precision", False),
                                ("jit_compile", "XLA (jit_compile)", False), ("steps_per_execution",
                                "Steps per execution", 1), ("inspect", "Weights and gradients", True)):
        v = s.pop(key, default)
        if v != default:
            rows.append((label, "on" if v is True else "off" if v is False else charts.json_text(v)))
    continues, finetune = s.pop("continues", None), s.pop("finetune", None)
    if continues:
        unfrozen = finetune.get("unfrozen") if isinstance(finetune, dict) else None
        rows.append(("Fine-tuning", f"continues run {str(continues)[:6]}"
                     + (f", top {unfrozen} layers unfrozen" if unfrozen is not None else "")))
    if _search_of(settings or {}):
        rows.append(("Search", _search_of(settings)))
    s.pop("search", None)
    rows += [(k.replace("_", " ").capitalize(), charts.json_text(v)) for k, v in {**comp, **s}.items()]
    return rows


def _result_rows(run: dict) -> list[tuple[str, str]]:
    """Status, message and the final (test) metrics as (label, value)."""
    rows = [("Status", str(run.get("status") or "unknown"))]
    if run.get("message"):
        rows.append(("Message", str(run["message"])))
    metrics = run.get("final_metrics") or {}
    if isinstance(metrics, dict):
        rows += [(f"Test {k.replace('_', ' ')}", f"{v:.4f}" if isinstance(v, float) else str(v))
                 for k, v in metrics.items()]
    if not metrics:
        rows.append(("Test metrics", "none (the run did not finish)" if run.get("status") != "finished" else "none"))
    return rows


def _table(title: str, rows: list[tuple[str, str]], pairs: int = 1) -> str:
    """A Markdown table of `pairs` (label, value) pairs a line; every cell is escaped (names, messages and values
    are the user's)."""
    lines = []
    for i in range(0, len(rows), pairs):
        cells = [md_escape(c) for k, v in rows[i:i + pairs] for c in (k, v)]
        lines.append("| " + " | ".join(cells + [""] * (2 * pairs - len(cells))) + " |")
    return "\n".join([f"| {title} |" + " |" * (2 * pairs - 1), "|:--" * 2 * pairs + "|", *lines])


for run in chosen:
    with st.expander(md_escape(_label(run))):
        left, right = st.columns([2, 1])
        left.markdown(_table("Settings", _settings_rows(run.get("settings")), pairs=2))
        right.markdown(_table("Result", _result_rows(run)))
        if st.toggle("Weights and gradients", key=f"wg_open:{run['id']}",
                     help="Each layer's weight and gradient sizes and histograms per epoch, as recorded in training."):
            from builder.train.inspect import load_rows
            from components.inspect_panel import render_weights_gradients
            from components.training_panel import artifact_dir

            render_weights_gradients(load_rows(artifact_dir(), run["id"]), key=run["id"])
        buttons = st.container(horizontal=True)
        if buttons.button("Open in editor", key=f"edit:{run['id']}", icon=":material/edit:",
                          disabled=run["graph"] is None or run["status"] in ("queued", "compiling", "running"),
                          help="A new project with this run's graph and trained weights."):
            with st.spinner("Loading the trained model..."):
                _open_in_editor(run)
            st.switch_page("pages/build.py")
        if buttons.button("Open on the Train page", key=f"open:{run['id']}", icon=":material/open_in_new:"):
            from components.training_panel import RUN

            st.session_state[RUN] = run["id"]
            st.query_params["run"] = run["id"]
            st.switch_page("pages/train.py")
        from components.export_panel import render_logs

        render_logs(run["id"], run["id"])  # its TensorBoard logs, when it wrote any
