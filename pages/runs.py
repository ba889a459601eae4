"""The Runs page: this project's training runs first (or all of this owner's), curves overlaid, architectures
compared, and any run reopened in the editor with its trained weights."""

import datetime

import streamlit as st

from components import charts, state
from components.text import md_escape

state.ensure_navigation()

store = state.get_store()
me = state.owner()
st.subheader("Runs")
store.mark_interrupted()  # runs of a server that has died since (another server may share the file)
scope = st.segmented_control("Show", ["This project", "All my projects"], default="This project", key="runs_scope")
everywhere = scope == "All my projects"
runs = store.list_runs(None if everywhere else state.project_id(), limit=200, owner=me)
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
    from components.training_panel import WEIGHTS, WEIGHTS_FROM, stored_model

    graph = run["graph"]
    model = stored_model(run)
    try:
        graph = graph.set_name(f"{graph.name} run {run['id'][:6]}")
    except Exception:  # noqa: BLE001 - a name at its length limit: keep it
        pass
    state.new_project(graph, weights_run=run["id"] if model is not None else None)
    if model is not None:
        st.session_state[WEIGHTS] = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}
        st.session_state[WEIGHTS_FROM] = run["id"]
        state.flash("success", f"Opened run {run['id'][:6]} in the editor as a new project, with its trained "
                               "weights: training, freezing and export start from them.")
    else:
        state.flash("warning", f"Opened run {run['id'][:6]} in the editor as a new project. Its trained model was "
                               "not saved (the run did not finish), so the layers start untrained.")


for run in chosen:
    with st.expander(md_escape(_label(run))):
        st.json({"settings": run["settings"], "final metrics": run["final_metrics"], "status": run["status"],
                 "message": run["message"]}, expanded=False)
        if st.toggle("Weights and gradients", key=f"wg_open:{run['id']}",
                     help="Each layer's weight and gradient sizes and histograms per epoch, as recorded in training."):
            from builder.inspect import load_rows
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
