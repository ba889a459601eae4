"""Search: mark parameters in the inspector, run a KerasTuner search from the Train page, compare the trials and
apply one (builder/model/space.py reads the space, builder/train/search.py runs the search)."""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

import streamlit as st

from builder.model import space
from builder.model.catalog import LAYERS
from builder.model.graph import Graph
from builder.train.search import SearchError, SearchJob
from components import charts, state
from components.messages import flash
from components.owner import current_owner
from components.runtime import rerun
from components.text import md_escape

SEARCH = state.per_project("lc_search")  # the id of this session's search job
SEARCHABLE = ("int", "float", "choice", "bool", "ints", "initializer")
OBJECTIVES = {"val_accuracy": "validation accuracy (higher is better)", "val_loss": "validation loss (lower is better)",
              "val_mae": "validation mean absolute error (lower is better)"}


# -- the inspector ---------------------------------------------------------------------------------------------------
def parse_values(text: str) -> list:
    """`8, 16, 32` -> [8, 16, 32]; `[3, 3], [5, 5]` -> [[3, 3], [5, 5]]; `relu, tanh` -> ["relu", "tanh"]."""
    text = text.strip()
    if not text:
        return []
    with contextlib.suppress(json.JSONDecodeError):
        return json.loads(f"[{text}]")
    out = []
    for part in text.split(","):
        part = part.strip()
        try:
            out.append(json.loads(part))
        except json.JSONDecodeError:
            out.append(part)
    return out


def render_node_search(graph: Graph, nid: str) -> Graph | None:
    """The inspector's "Search" box: what is searched on this node, and a form to mark one more setting."""
    node = graph.node(nid)
    spec = LAYERS.get(node.type)
    if spec is None or spec.is_input:
        return None
    params = [ps for ps in spec.params if ps.kind in SEARCHABLE]
    if not params:
        return None
    mine = space.node_marks(graph, nid)
    problems = [i for i in space.issues(graph) if i.node_id == nid]
    box = st.expander(f"Search{f' ({len(mine)})' if mine else ''}: try several values", icon=":material/manage_search:",
                      expanded=bool(mine or problems), key=f"search_open:{nid}", on_change="rerun")
    if not box.open:
        return None  # made only while open: an edit elsewhere in the inspector then redraws less
    with box:
        st.caption("The Search on the Train page trains one model per combination it picks from the values marked "
                   "here. Everything else (summary, code, training) uses the value set above.")
        for issue in problems:
            st.error(md_escape(issue.message))
        for name, text in mine.items():
            c1, c2 = st.columns([5, 1], vertical_alignment="center")
            c1.markdown(f"**{md_escape(name)}**: {md_escape(text)}")
            if c2.button("", icon=":material/close:", key=f"unsearch:{nid}:{name}", help=f"Stop searching {name}",
                         type="tertiary"):
                return space.set_dim(graph, f"{nid}.{name}", None)
        names = [ps.name for ps in params]
        name = st.selectbox("Setting", names, key=f"search_param:{nid}",
                            index=next((i for i, n in enumerate(names) if n not in mine), 0))
        ps = spec.param(name)
        current = node.params.get(name, None if ps.required else ps.default)
        ranged = ps.kind in ("int", "float")
        mode = st.segmented_control("Try", ["values", "range"] if ranged else ["values"], default="values",
                                    key=f"search_mode:{nid}:{name}", format_func=lambda m: {"values": "A list of values",
                                                                                            "range": "A range"}[m])
        typed = _space_form(nid, name, ps, current, mode or "values")
        if typed is not None:
            try:
                return space.set_dim(graph, f"{nid}.{name}", typed)
            except SearchError as e:
                st.error(md_escape(str(e)))
    return None


def _space_form(nid: str, name: str, ps, current: Any, mode: str) -> dict | None:
    """The values or range typed in; None until "Search it" is pressed."""
    with st.form(f"search_form:{nid}:{name}:{mode}", border=False):
        if mode == "range":
            whole = ps.kind == "int"
            base = current if isinstance(current, (int, float)) and not isinstance(current, bool) and current else 1
            lo_default = max(1, int(base) // 2) if whole else float(base) / 2
            hi_default = int(base) * 2 if whole else float(base) * 2
            c = st.columns(4)
            lo = c[0].number_input("min", value=lo_default, step=1 if whole else None, format=None if whole else "%g",
                                   key=f"search_min:{nid}:{name}")
            hi = c[1].number_input("max", value=hi_default, step=1 if whole else None, format=None if whole else "%g",
                                   key=f"search_max:{nid}:{name}")
            step = c[2].number_input("step", value=None, step=1 if whole else None, format=None if whole else "%g",
                                     placeholder="any", key=f"search_step:{nid}:{name}",
                                     help="Empty: any value in the range. On a log scale, the step is a factor.")
            scale = c[3].selectbox("scale", ["linear", "log"], key=f"search_scale:{nid}:{name}",
                                   help="log: as many tries between 0.001 and 0.01 as between 0.01 and 0.1.")
            typed = {"min": lo, "max": hi, "sampling": scale}
            if step is not None:
                typed["step"] = step
        elif ps.kind in ("choice", "bool", "initializer"):
            options = [True, False] if ps.kind == "bool" else list(ps.choices)
            picked = st.multiselect("Values to try", options, key=f"search_pick:{nid}:{name}",
                                    format_func=lambda v: "none" if v is None else str(v).lower())
            typed = {"values": picked}
        else:
            example = "3, 5, 7" if ps.kind == "ints" else "8, 16, 32, 64" if ps.kind == "int" else "0.1, 0.2, 0.3"
            text = st.text_input("Values to try", placeholder=example, key=f"search_values:{nid}:{name}",
                                 help="Separate them with commas.")
            typed = {"values": parse_values(text)}
        if st.form_submit_button("Search it", icon=":material/manage_search:"):
            return typed
    return None


# -- the Train page --------------------------------------------------------------------------------------------------
def current_search() -> SearchJob | None:
    """This session's search (or the one in the URL), while the server keeps it; only its owner's."""
    from components.training_panel import registry

    sid = st.session_state.get(SEARCH) or st.query_params.get("search")
    job = registry().get(sid) if sid else None
    if job is None or getattr(job, "kind", None) != "search" or job.owner != current_owner():
        return None
    st.session_state[SEARCH] = sid
    return job


def start_search(graph: Graph, ds, settings, objective: str | None = None) -> SearchJob:
    """Starts the graph's search; `objective`: the one the page shows, written into the graph when it differs."""
    from components.training_panel import artifact_dir, registry, remember

    if state.read_only():
        raise PermissionError(state.READ_ONLY_MESSAGE)
    remember(settings)
    current = state.get_graph()
    spec = space.read(current)[0]
    if objective and spec is not None and spec.objective != objective:
        current = space.set_options(current, objective=objective)
        state.replace(current)
    from components.data_panel import with_data
    from components.training_panel import ensure_dispatcher, ray_address

    remote = ray_address() is not None  # each trial a Ray task: its graph names the data for the worker
    job = SearchJob(with_data(current) if remote else current, ds, settings, store=state.get_store(),
                    project_id=state.project_id(), artifact_dir=artifact_dir(), owner=current_owner(), remote=remote)
    if remote:
        ensure_dispatcher()
    registry().submit(job)
    st.session_state[SEARCH] = job.id
    st.query_params["search"] = job.id
    return job


def render_space(graph: Graph, metrics: list[str], disabled: bool) -> space.SearchSpec | None:
    """What is searched (with remove buttons), the training settings to search, and the search's options."""
    spec, problems = space.read(graph)
    dims = spec.dims if spec else ()
    for issue in problems:
        st.error(md_escape(f"{issue.node_id}: {issue.message}" if issue.node_id else issue.message),
                 icon=":material/error:")
    node_dims = [d for d in dims if space.split_key(d.key)[0] not in ("compile", "training")]
    if not node_dims:
        st.info("Mark the layer settings to search on the Build page: select a layer, then open **Search** in its "
                "inspector (for example Dense units: 8, 16, 32, 64).", icon=":material/manage_search:")
    for d in node_dims:
        c1, c2 = st.columns([8, 1], vertical_alignment="center")
        c1.markdown(f"**{md_escape(d.key)}**: {md_escape(d.describe())}")
        if c2.button("", icon=":material/close:", key=f"unsearch_key:{d.key}", help=f"Stop searching {d.key}",
                     type="tertiary", disabled=disabled):
            state.commit(space.set_dim(graph, d.key, None))
            rerun()
    _settings_dims(graph, spec, disabled)
    spec = space.read(state.get_graph())[0]
    if spec is None:
        return None
    c = st.columns([2, 1, 1, 2])
    tuners = list(space.TUNERS)
    keys = {"tuner": "search_tuner", "max_trials": "search_trials", "max_minutes": "search_minutes",
            "objective": "search_objective"}
    c[0].selectbox("Tuner", tuners, index=tuners.index(spec.tuner), format_func=space.TUNERS.get,
                   key=keys["tuner"], disabled=disabled, on_change=_save_options, args=(keys,),
                   help="Random search tries combinations at random; Bayesian optimization learns from "
                        "the trials so far; Hyperband trains many models briefly and the best ones longer.")
    c[1].number_input("Trials", 1, space.MAX_TRIALS, spec.max_trials, key=keys["max_trials"], disabled=disabled,
                      on_change=_save_options, args=(keys,))
    c[2].number_input("Time budget (min)", 0.0, 10_000.0, float(spec.max_minutes or 0.0), step=1.0,
                      key=keys["max_minutes"], disabled=disabled, on_change=_save_options, args=(keys,),
                      help="0: no limit. When it runs out, the running trial stops and no new one starts.")
    choices = [o for o in OBJECTIVES if o == "val_loss" or o.removeprefix("val_") in metrics]
    objective = spec.objective if spec.objective in choices else choices[0]
    objective = c[3].selectbox("Best means", choices, index=choices.index(objective), format_func=OBJECTIVES.get,
                               key=keys["objective"], disabled=disabled, on_change=_save_options, args=(keys,))
    if objective != spec.objective:  # the search runs with what the page shows, without writing the graph
        from dataclasses import replace

        spec = replace(spec, objective=objective)
    combos = spec.combinations()
    if dims:
        st.caption(f"{len(spec.dims)} setting(s) searched; "
                   + (f"{combos:,} combination(s), {min(combos, spec.max_trials)} will be tried."
                      if combos is not None else f"a continuous range: {spec.max_trials} trials will be drawn."))
    return spec


def _save_options(keys: dict) -> None:
    """A search option changed: into the graph's `search` field (saved, undone with the graph), before the rerun."""
    values = {name: st.session_state.get(key) for name, key in keys.items()}
    values["max_trials"] = int(values["max_trials"])
    values["max_minutes"] = float(values["max_minutes"] or 0.0) or None
    state.replace(space.set_options(state.get_graph(), **values))


def _settings_dims(graph: Graph, spec, disabled: bool) -> None:
    """Searching the learning rate, the batch size and the optimizer."""
    from builder.train.settings import OPTIMIZERS

    with st.expander("Also search the training settings", expanded=bool(spec and any(
            space.split_key(d.key)[0] in ("compile", "training") for d in spec.dims))):
        rows = [
            ("compile.learning_rate", "Learning rate", {"min": 1e-4, "max": 1e-2, "sampling": "log"}),
            ("training.batch_size", "Batch size", {"values": [16, 32, 64]}),
            ("compile.optimizer", "Optimizer", {"values": ["adam", "sgd"]}),
        ]
        for key, label, default in rows:
            current = spec.dim(key) if spec else None
            c1, c2 = st.columns([1, 3], vertical_alignment="center")
            on = c1.toggle(label, value=current is not None, key=f"search_on:{key}", disabled=disabled)
            if on != (current is not None):
                try:
                    state.commit(space.set_dim(state.get_graph(), key, default if on else None))
                except SearchError as e:
                    st.error(md_escape(str(e)))
                rerun()
            if current is None:
                continue
            if key == "compile.optimizer":
                picked = c2.multiselect("Optimizers", list(OPTIMIZERS), default=list(current.values),
                                        key=f"search_opt:{key}", disabled=disabled, label_visibility="collapsed")
                new = {"values": picked}
            elif key == "training.batch_size":
                text = c2.text_input("Batch sizes", value=", ".join(str(v) for v in current.values or ()),
                                     key=f"search_batch:{key}", disabled=disabled, label_visibility="collapsed",
                                     help="Separate them with commas.")
                new = {"values": parse_values(text)}
            else:
                cc = c2.columns(2)
                lo = cc[0].number_input("from", value=float(current.min), format="%g", key=f"search_lo:{key}",
                                        disabled=disabled)
                hi = cc[1].number_input("to (log scale)", value=float(current.max), format="%g",
                                        key=f"search_hi:{key}", disabled=disabled)
                new = {"min": lo, "max": hi, "sampling": "log"}
            if not disabled and new != current.to_dict():
                try:
                    state.commit(space.set_dim(state.get_graph(), key, new))
                except SearchError as e:
                    c2.error(md_escape(str(e)))


def render_search_progress(snap: dict) -> None:
    """The search while it runs or after: progress, best so far, the trials table, the chart."""
    done = [t for t in snap["trials"] if t["status"] != "running"]
    status = snap["status"]
    total = snap["max_trials"]
    text = {"queued": f"Waiting in line (place {snap['queue_position']})" if snap["queue_position"] else "Waiting",
            "compiling": "Starting the search...", "running": f"Trial {len(snap['trials'])} of at most {total}",
            "finished": "Finished", "stopped": "Stopped", "failed": "Failed"}.get(status, status)
    st.progress(min(len(done) / max(total, 1), 1.0), text=f"{text}: {len(done)} trial(s) done")
    best = snap["best"]
    c = st.columns(3)
    c[0].metric("Best " + snap["objective"], f"{best['score']:.4f}" if best else "-",
                help="The best trial's objective at its best epoch, on the validation data.")
    c[1].metric("Best trial", f"#{best['number']}" if best else "-")
    c[2].metric("Elapsed", f"{snap['elapsed_s']:.0f} s")
    if best:
        st.markdown("**Best so far:** " + md_escape(", ".join(f"{k} = {charts.json_text(v)}"
                                                              for k, v in best["values"].items())))
    if snap["message"]:
        (st.error if status == "failed" else st.info)(md_escape(snap["message"]))
    current = snap.get("current")
    if current is not None:
        from components.training_panel import render_curves

        epochs = max(current["epochs"], 1)
        st.caption(f"Trial {len(snap['trials'])}: epoch {min(current['epoch'] + 1, epochs)} of {epochs}")
        render_curves(current["history"], current["batches"], key="search_live")
    if done:
        render_trials_table(snap)
        render_trials_chart(snap)


def trial_rows(snap: dict) -> list[dict]:
    """One row per trial, for the table."""
    rows = []
    for t in snap["trials"]:
        row = {"trial": t["number"], "status": t["status"]}
        row.update({k: charts.json_text(v) for k, v in t["values"].items()})
        row[snap["objective"]] = None if t["score"] is None else round(t["score"], 4)
        for k, v in (t.get("test") or {}).items():
            row[f"test {k}"] = round(v, 4) if isinstance(v, (int, float)) and math.isfinite(v) else None
        row["params"] = t.get("total_params")
        row["MACs"] = t.get("macs")
        row["epochs"] = t.get("epochs")
        row["seconds"] = round(t.get("seconds") or 0.0, 1)
        row["why"] = t.get("reason") or ""
        rows.append(row)
    return rows


def render_trials_table(snap: dict) -> None:
    import pandas as pd

    st.dataframe(pd.DataFrame(trial_rows(snap)), hide_index=True, key="search_table",
                 column_config={"why": st.column_config.TextColumn("why", width="large")})


def render_trials_chart(snap: dict) -> None:
    keys = list(snap["space"])
    has_cost = any(t.get("macs") for t in snap["trials"])
    axes = (["macs", "total_params"] if has_cost else ["total_params"]) + keys
    names = {"macs": "MACs (cost per sample)", "total_params": "parameters"}
    x = st.selectbox("Chart against", axes, format_func=lambda a: names.get(a, a), key="search_axis")
    st.plotly_chart(charts.search_scatter(snap["trials"], x, snap["objective"], snap["maximize"]),
                    key="search_chart")
    if x in ("macs", "total_params"):
        st.caption("The green line is the Pareto front: no other trial is both as cheap and better.")


def render_apply(job: SearchJob) -> None:
    """Pick a trial and write its values into the model (one undoable step); its trained weights come along."""
    snap = job.snapshot()
    usable = [t for t in snap["trials"] if t["status"] == "ok"]
    if not usable:
        return
    best = snap["best"]
    numbers = [t["number"] for t in usable]
    c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
    c1.selectbox("Trial", numbers, index=numbers.index(best["number"]) if best else 0, key="search_apply_pick",
                        format_func=lambda n: f"#{n}" + (" (best)" if best and n == best["number"] else ""))
    c2.button("Apply to the model", type="primary", icon=":material/done_all:", key="search_apply",
              disabled=state.read_only() or job.active, on_click=_apply_clicked, args=(job.id,),
              help="Sets the trial's values in the graph and the training settings (Undo takes it back), with the "
                   "weights the trial trained.")


def _apply_clicked(search_id: str) -> None:
    """The Apply button's callback: it runs before the page, so the Train settings' widgets can take the values."""
    from components.training_panel import registry

    job = registry().get(search_id)
    pick = st.session_state.get("search_apply_pick")
    trial = next((t for t in job.trials if t.number == pick), None) if job is not None else None
    if trial is not None and trial.status == "ok":
        apply_trial(job, trial)


def apply_trial(job: SearchJob, trial) -> None:
    """The trial's values into the project's graph (an undoable step) and the Train settings; its run becomes the
    project's latest, so the next run and Export start from its weights."""
    from components.training_panel import RUN, WEIGHTS, WEIGHTS_FROM

    graph = space.apply_values(state.get_graph(), trial.values)
    state.commit(graph)
    for key, value in trial.values.items():  # the Train settings' widgets show the applied values
        widget = {"compile.learning_rate": "train_lr", "compile.optimizer": "train_optimizer",
                  "training.batch_size": "train_batch", "training.epochs": "train_epochs"}.get(key)
        if widget:
            st.session_state[widget] = float(value) if key == "compile.learning_rate" else value
    if trial.run_id:
        st.session_state[RUN] = trial.run_id
        st.query_params["run"] = trial.run_id
        st.session_state.pop(WEIGHTS, None)
        st.session_state.pop(WEIGHTS_FROM, None)
        # The weights are a convenience: the values are applied all the same if the store is busy.
        with contextlib.suppress(Exception):
            state.get_store().set_weights_run(state.project_id(), trial.run_id)
    flash("success", f"Applied trial {trial.number}: " + ", ".join(
        f"{k} = {charts.json_text(v)}" for k, v in trial.values.items()) + ". Undo takes it back.")


def render_search(graph: Graph, ds, settings, ready: bool) -> None:
    """The Train page in Search mode."""
    job = current_search()
    active = job is not None and job.active
    st.caption("A search trains several versions of the model, one per trial, and keeps the best. Each trial is a "
               "run on the Runs page.")
    metrics = list(settings.compile.metrics) if settings is not None else []
    spec = render_space(graph, metrics, disabled=active or state.read_only())
    buttons = st.container(horizontal=True)
    can_start = ready and settings is not None and spec is not None and bool(spec.dims) and not active \
        and not state.read_only() and not space.read(state.get_graph())[1]
    if buttons.button("Start search", type="primary", icon=":material/manage_search:", key="search_start",
                      disabled=not can_start, help="Save a copy of this project to search it." if state.read_only()
                      else None):
        try:
            start_search(graph, ds, settings, spec.objective)
        except SearchError as e:
            st.error(md_escape(str(e)))
        else:
            rerun()
    if buttons.button("Stop", icon=":material/stop:", key="search_stop", disabled=not active):
        job.stop()
        st.toast("Stopping: the running trial ends at its next batch; finished trials are kept.")
    if job is None:
        return
    if active:
        @st.fragment(run_every=1.0)
        def live():
            snap = job.snapshot()
            render_search_progress(snap)
            if snap["status"] not in ("queued", "compiling", "running"):
                rerun()

        live()
    else:
        render_search_progress(job.snapshot())
        render_apply(job)
