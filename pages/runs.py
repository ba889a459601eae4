"""The Runs page: every training run of this project (or all), with curves overlaid for comparison."""

import datetime

import streamlit as st

from components import charts, state
from components.text import md_escape

state.ensure_navigation()

store = state.get_store()
st.subheader("Runs")
store.mark_interrupted()  # runs of a server that has died since (another server may share the file)
scope = st.segmented_control("Show", ["This project", "All projects"], default="This project", key="runs_scope")
runs = store.list_runs(state.project_id() if scope != "All projects" else None, limit=200)
if not runs:
    st.info("No runs yet: train a model on the Train page.")
    st.stop()


def _when(t: float) -> str:
    return datetime.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")


def _label(run: dict) -> str:
    return f"{run['name']} on {run['dataset']}, {_when(run['created_at'])} ({run['id'][:6]})"


table = {
    "run": [r["id"][:6] for r in runs],
    "model": [r["name"] for r in runs],
    "data": [r["dataset"] for r in runs],
    "status": [r["status"] for r in runs],
    "started": [_when(r["created_at"]) for r in runs],
    "test loss": [(r.get("final_metrics") or {}).get("loss") for r in runs],
    "test accuracy": [(r.get("final_metrics") or {}).get("accuracy") for r in runs],
    "note": [r.get("message") or "" for r in runs],
}
event = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="multi-row", key="runs_table",
                     column_config={"test loss": st.column_config.NumberColumn(format="%.4f"),
                                    "test accuracy": st.column_config.NumberColumn(format="%.4f")})
rows = event.selection.rows if event and event.selection else []
if not rows:
    rows = list(range(min(2, len(runs))))
    st.caption("Select rows to compare their curves; the newest are shown.")
chosen = []
for i in rows:
    run = store.get_run(runs[i]["id"])
    if run is not None:
        chosen.append({**run, "label": _label(run)})
names = sorted({k for r in chosen for e in r["epochs"] for k in e["metrics"]
                if k not in ("epoch", "partial") and not k.startswith("val_")}, key=lambda n: (n != "loss", n))
if not names:
    st.caption("These runs have no finished epoch yet.")
cols = st.columns(2)
for n, name in enumerate(names[:4]):
    with cols[n % 2]:
        st.plotly_chart(charts.overlay(chosen, name), key=f"overlay:{name}")
for run in chosen:
    with st.expander(md_escape(_label(run))):
        st.json({"settings": run["settings"], "final metrics": run["final_metrics"], "status": run["status"],
                 "message": run["message"]}, expanded=False)
        if st.button("Open on the Train page", key=f"open:{run['id']}", icon=":material/open_in_new:"):
            st.session_state["lc_run"] = run["id"]
            st.query_params["run"] = run["id"]
            st.switch_page("pages/train.py")
