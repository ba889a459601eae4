"""The Train page: settings, Start/Stop, live curves, results, and freezing layers."""

import streamlit as st

from builder.store import LimitError
from builder.train.settings import memory_problem
from components import state
from components.build_cache import build_result
from components.data_panel import current_dataset, data_problem, render_compat
from components.messages import flash
from components.navigation import ensure_navigation
from components.network_view import render_network_view
from components.owner import current_owner
from components.runtime import rerun
from components.search_panel import current_search, render_search
from components.text import md_escape
from components.training_panel import (
    WEIGHTS,
    counts,
    current_run,
    keep_stored_weights,
    keep_weights,
    ray_problem,
    render_curves,
    render_finetune,
    render_live,
    render_live_stored,
    render_progress,
    render_results,
    render_settings,
    restore_weights,
    start,
    stored_snapshot,
)

ensure_navigation()

graph = state.get_graph()
ds = current_dataset(graph)
job, stored = current_run()
# A run this process does not hold (a Ray task, or a job of another app server) is followed through the store.
elsewhere = job is None and stored is not None and stored["status"] in ("queued", "compiling", "running")
active = (job is not None and job.active) or elsewhere
if job is not None and not active:
    keep_weights(job)  # the next run can start from them
elif job is None and not elsewhere:
    keep_stored_weights(stored)  # a run trained elsewhere that ended: the next run starts from its weights
    restore_weights(job, stored)  # after a reload: the latest run's (saved when it ended)

st.subheader("Train")
if ds is None:
    st.info(md_escape(data_problem(graph) or "Pick the data first, on the Data page."), icon=":material/dataset:")
    st.page_link("pages/data.py", label="Data", icon=":material/dataset:")
    st.stop()
st.markdown(f"**Data:** {md_escape(ds.name)} ({ds.task}, input {' x '.join(map(str, ds.input_shape))}, "
            f"{len(ds.x_train):,} training samples)")

result = build_result()
fits = result.model is not None
if not fits:
    first = next(iter(result.errors or result.issues), None)
    why = "" if first is None else f" ({first.node_id}: {first.message})" if first.node_id else f" ({first.message})"
    st.error(md_escape(f"The model has errors{why}: fix them on the Build page first."), icon=":material/error:")
ok = render_compat(graph, ds) if fits else False
unavailable = ray_problem()
if unavailable:
    st.error(md_escape(unavailable), icon=":material/cloud_off:")

mode = st.segmented_control("Mode", ["train", "search"], default="train", key="train_mode",
                            format_func={"train": "Train", "search": "Search"}.get, label_visibility="collapsed",
                            help="Search: train several versions of the model and keep the best (KerasTuner).")
searching = mode == "search"
search_job = current_search()
busy = active or (search_job is not None and search_job.active)
with st.expander("Settings for every trial" if searching else "Settings",
                 expanded=not busy and job is None and not searching):
    if state.read_only():
        st.caption("Read-only: the settings its owner chose. Save a copy to change them.")
    settings = render_settings(graph, ds, disabled=busy or state.read_only())

too_big = memory_problem(result, settings) if fits and settings is not None else None
if too_big:
    st.error(md_escape(too_big), icon=":material/memory:")
if searching:
    render_search(graph, ds, settings, ready=bool(ok) and not too_big)
    st.stop()
weights = st.session_state.get(WEIGHTS)
buttons = st.container(horizontal=True)
use_weights = False
if weights and not state.read_only():
    use_weights = buttons.toggle("Start from the current weights", value=True, key="train_use_weights",
                                 help="Layers that did not change since the weights were trained or imported keep "
                                      "them; the others start fresh.")
if buttons.button("Start training", type="primary", icon=":material/play_arrow:", key="train_start",
                  disabled=active or not ok or settings is None or bool(too_big) or state.read_only()
                  or bool(unavailable),
                  help="Save a copy of this project to train it." if state.read_only() else unavailable):
    try:
        start(graph, ds, settings, use_weights)
    except LimitError as e:
        flash("warning", str(e)[0].upper() + str(e)[1:] + ".")
    rerun()  # the buttons and the settings are drawn again for a running job
if buttons.button("Stop", icon=":material/stop:", key="train_stop", disabled=not active or state.read_only()):
    if job is not None:
        job.stop()
    else:
        state.get_store().request_stop(stored["id"], owner=current_owner())
    st.toast("Stopping at the next batch...")

if job is not None:
    if job.active:
        render_live(job)
    else:
        snap = job.snapshot()
        render_progress(snap)
        render_curves(snap["history"], snap["batches"], key="done", run_id=job.id)
        if job.status in ("finished", "stopped"):
            render_finetune(graph, ds, settings, result, job.id, ready=bool(ok) and not too_big)
        render_results(snap["result"], job.dataset, key=job.id)
elif elsewhere:
    render_live_stored(stored["id"])
elif stored is not None:
    snap = stored_snapshot(stored)
    st.caption(f"The latest run of this project ({md_escape(stored['status'])}): its curves and final metrics.")
    render_progress(snap)
    render_curves(snap["history"], [], key="stored", run_id=stored["id"])
    if stored["status"] in ("finished", "stopped"):
        render_finetune(graph, ds, settings, result, stored["id"], ready=bool(ok) and not too_big)
    render_results(snap["result"], None)

# The network view is drawn only while the expander is open: drawn folded, it measures itself 0 px tall and stays so.
freeze_box = st.expander("Freeze layers (transfer learning)", key="train_freeze_open", on_change="rerun")
with freeze_box:
    st.caption("Click a layer to freeze or unfreeze it. Frozen layers (grey) keep their weights while the others "
               "train; the model is compiled again when the next run starts.")
    if fits:
        trainable, frozen = counts(result)
        c = st.columns(2)
        c[0].metric("Trainable params", f"{trainable:,}")
        c[1].metric("Non-trainable params", f"{frozen:,}")
    if state.read_only():
        st.caption("Read-only: the layers its owner froze are grey. Save a copy to freeze others.")
    clicked = render_network_view(graph, result) if freeze_box.open else None
    if clicked and state.read_only():
        st.warning(state.READ_ONLY_MESSAGE, icon=":material/visibility:")
    elif clicked and not active:
        node = graph.node(clicked)
        state.commit(graph.set_trainable(clicked, not node.trainable))
        flash("info", f"{clicked} is now {'trainable' if not node.trainable else 'frozen'}.")
        rerun()
    elif clicked:
        st.warning("Wait for training to end before freezing layers.")
