"""The Projects page: every project of this owner's, newest first, to open, rename, copy, download or delete."""

import datetime
import time

import streamlit as st

from builder.files.codegen import safe_filename
from builder.model.templates import TEMPLATES
from builder.store import StoreError
from components import state
from components.messages import flash
from components.navigation import ensure_navigation
from components.owner import current_owner
from components.runtime import rerun
from components.sidebar import new_from_template, open_upload, upload_limit_mb
from components.text import md_escape

ensure_navigation()

DELETED = "lc_deleted"  # (project id, name) of the last project deleted in this session: Undo brings it back
RENAME_ERROR = "lc_rename_error"  # (project id, reason) of a name just refused, shown in that project's Rename
UNDO_WINDOW_S = 3600  # a deleted project is removed for good after this (at the next visit of this page)

store = state.get_store()
me = current_owner()
store.purge_deleted(older_than_s=UNDO_WINDOW_S)
st.subheader("Projects")
missing = state.missing_project()
if missing:
    st.warning(md_escape(f"There is no project {missing} here: it was deleted, or the link is wrong. "
                         "Open one below, or start a new one."), icon=":material/search_off:")

top = st.columns([2, 2, 1, 2], vertical_alignment="bottom")
search = top[0].text_input("Search", placeholder="Search by name", key="projects_search")
choice = top[1].selectbox("Template", list(TEMPLATES), format_func=lambda k: TEMPLATES[k][0], key="projects_template")
if top[2].button("New", icon=":material/add_circle:", key="projects_new", width="stretch",
                 help="A new project from this template; the current one stays in the list."):
    new_from_template(choice)
    st.switch_page("pages/build.py")
with top[3].popover("Open file", icon=":material/upload_file:", width="stretch"):
    upload = st.file_uploader("A graph file (.json) or a Keras model (.keras, .h5)", type=["json", "keras", "h5"],
                              key="projects_upload", max_upload_size=upload_limit_mb())
    if upload is not None and st.session_state.get("lc_opened") != upload.file_id:
        st.session_state["lc_opened"] = upload.file_id
        open_upload(upload)
        st.switch_page("pages/build.py")
st.page_link("pages/pretrained.py", label="Or start from a pretrained network (MobileNet, ResNet, EfficientNet…)",
             icon=":material/model_training:")

deleted = st.session_state.get(DELETED)
if deleted:
    row = st.container(horizontal=True, vertical_alignment="center")
    row.info(md_escape(f"Deleted {deleted[1]}."), icon=":material/delete:", width="stretch")
    if row.button("Undo", key="projects_undo", icon=":material/undo:"):
        store.restore_project(deleted[0], owner=me)
        st.session_state.pop(DELETED, None)
        flash("success", f"{deleted[1]} is back.")
        rerun()

projects = store.list_projects(limit=200, owner=me, search=search or None)
if not projects:
    st.info("No project matches that search." if search else "No projects yet: start one from a template above.")


def _ago(t: float) -> str:
    s = max(time.time() - t, 0)
    if s < 60:
        return "just now"
    if s < 3600:
        return f"{int(s // 60)} min ago"
    if s < 86400:
        return f"{int(s // 3600)} h ago"
    return datetime.datetime.fromtimestamp(t).strftime("%Y-%m-%d")


def _preview(p: dict) -> str:
    parts = [f"changed {_ago(p['updated_at'])}"]
    if p["layers"] is not None:
        parts.append(f"{p['layers']} layer{'s' if p['layers'] != 1 else ''}")
    if p["params"] is not None:
        parts.append(f"{p['params']:,} params")
    runs = p["runs"]
    parts.append(f"{runs} run{'s' if runs != 1 else ''}" if runs else "not trained")
    best = p["best"] or {}
    if "accuracy" in best:
        parts.append(f"best test accuracy {best['accuracy']:.3f}")
    elif "loss" in best:
        parts.append(f"best test loss {best['loss']:.4g}")
    return " · ".join(parts)


def _rename(pid: str, is_current: bool) -> None:
    """Save name: renames the project and closes its popover; a refused name keeps it open, with the reason."""
    try:
        graph = store.rename_project(pid, st.session_state.get(f"rename_text:{pid}", ""), owner=me)
    except StoreError as e:
        st.session_state[RENAME_ERROR] = (pid, str(e))
        return
    st.session_state.pop(RENAME_ERROR, None)
    st.session_state[f"rename_pop:{pid}"] = False
    if is_current:
        state.replace(graph)


current = state.project_id()
rename_error = st.session_state.pop(RENAME_ERROR, None)  # shown once, in its popover
for p in projects:
    pid, name = p["id"], p["name"]
    with st.container(border=True, key=f"project:{pid}"):
        head = st.container(horizontal=True, vertical_alignment="center")
        with head.container():
            here = " · open now" if pid == current else ""
            st.markdown(f"**{md_escape(name)}**")
            st.caption(md_escape(_preview(p) + here))
        if head.button("Open", key=f"open:{pid}", icon=":material/open_in_new:", disabled=pid == current,
                       type="primary"):
            state.open_project(pid)
            st.switch_page("pages/build.py")
        # Tracks its open state (a key and on_change), so that a saved name can close it.
        with head.popover("Rename", icon=":material/edit:", key=f"rename_pop:{pid}", on_change="rerun"):
            st.text_input("New name", value=name, key=f"rename_text:{pid}")
            st.button("Save name", key=f"rename:{pid}", on_click=_rename, args=(pid, pid == current))
            if rename_error and rename_error[0] == pid:
                st.error(md_escape(rename_error[1]))
        if head.button("Duplicate", key=f"copy:{pid}", icon=":material/content_copy:"):
            try:
                store.duplicate_project(pid, me)
            except StoreError as e:
                flash("error", str(e))
            rerun()
        graph = store.load_project(pid)
        if graph is not None:
            head.download_button("Download", graph.dumps(), file_name=safe_filename(name, ".json"),
                                 mime="application/json", key=f"download:{pid}", icon=":material/download:",
                                 help="The graph file (JSON), to open again or use with `python -m builder`.")
        with head.popover("Delete", icon=":material/delete:"):
            st.markdown(md_escape(f"Delete {name}?"))
            drop_runs = False
            if p["runs"]:
                drop_runs = st.checkbox(f"Also delete its {p['runs']} run{'s' if p['runs'] != 1 else ''} and their "
                                        "trained models", key=f"drop_runs:{pid}",
                                        help="Otherwise they stay on the Runs page (All my projects).")
            if st.button("Delete", key=f"delete:{pid}", type="primary"):
                store.delete_project(pid, delete_runs=drop_runs, owner=me)
                st.session_state[DELETED] = (pid, name)
                if pid == current:
                    rest = [q for q in projects if q["id"] != pid]
                    if not (rest and state.open_project(rest[0]["id"], quiet=True)):
                        new_from_template(state.DEFAULT_TEMPLATE)
                rerun()

older = store.list_projects(limit=200, unowned=True, search=search or None)
if older:
    with st.expander(f"Projects from an earlier LayerCanvas, without an owner ({len(older)})"):
        st.caption("Made before projects had owners. Open one to make it yours, with its runs.")
        for p in older:
            row = st.container(horizontal=True, vertical_alignment="center")
            row.markdown(f"**{md_escape(p['name'])}** · {md_escape(_preview(p))}")
            if row.button("Open", key=f"claim:{p['id']}", icon=":material/open_in_new:"):
                state.open_project(p["id"])  # claims it
                st.switch_page("pages/build.py")
