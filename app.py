"""LayerCanvas: design Keras models visually. Run: streamlit run app.py"""


import streamlit as st

from builder.config import number
from builder.kerasenv import preload_in_background
from components import presenter, state
from components.canvas import first_paint
from components.canvas import painted as canvas_painted
from components.messages import show_flashes
from components.navigation import app_run
from components.owner import keep_browser_key
from components.runtime import keep_keras_session, rerun
from components.sidebar import render_sidebar
from components.state import database_guard


@st.cache_resource
def _preload():
    """TensorFlow loads in the background once per process, while the first page paints."""
    if number("LAYERCANVAS_PRELOAD"):
        return preload_in_background()
    return None


keep_keras_session()
st.set_page_config(page_title="LayerCanvas", page_icon=":material/schema:", layout="wide")  # ASCII: no emoji catalog to load
# Room for the canvas: Streamlit's wide layout keeps 6rem above and 5rem beside the page.
st.html("<style>[data-testid='stMainBlockContainer']{padding:1.2rem 1.5rem 2rem}"
        # The sidebar's width only while it is open: closed, the page takes its room.
        "section[data-testid='stSidebar']:not([data-collapsed='true']){width:16rem !important;min-width:16rem !important}"
        # Closed, its open button sits in the header at the top left: the page starts below it.
        "[data-testid='stAppViewContainer']:has([data-testid='stSidebar'][data-collapsed='true']) "
        "[data-testid='stMainBlockContainer']{padding-top:3.5rem}"
        "[data-testid='stMetricValue']{font-size:1.6rem}"
        # The Build page's side column scrolls on its own, as tall as the canvas (components/canvas: .lc-canvas):
        # a long inspector never scrolls the canvas out of view.
        ".st-key-lc_side{max-height:max(584px,calc(100vh - 126px));overflow-y:auto;overflow-x:hidden}</style>")
with database_guard():
    state.init_project()
    state.keep_project_in_url()
    presenter.keep()
    page = st.navigation([
        st.Page("pages/projects.py", title="Projects", icon=":material/folder_open:"),
        st.Page("pages/pretrained.py", title="Pretrained", icon=":material/model_training:"),
        st.Page("pages/build.py", title="Build", icon=":material/schema:", default=True),
        st.Page("pages/data.py", title="Data", icon=":material/dataset:"),
        st.Page("pages/train.py", title="Train", icon=":material/monitoring:"),
        st.Page("pages/inspect.py", title="Inspect", icon=":material/biotech:"),
        st.Page("pages/export.py", title="Export", icon=":material/download:"),
        st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
        st.Page("pages/classes.py", title="Class", icon=":material/school:"),
    ], position="hidden" if presenter.presenting() else "sidebar")
    if not state.has_project() and page.title != "Projects":
        st.switch_page("pages/projects.py")  # the URL named a project that is not there: pick one
    if (page.title != "Build" or not first_paint()) and not presenter.presenting():
        render_sidebar()  # not in the first run of a session on a fresh server: the canvas paints first
        with st.sidebar:
            keep_browser_key(state.get_store())  # an empty element; in the sidebar, as pages may stop early
    show_flashes()
    # The read-only notice goes into a container that every run draws at this place, notice or not. The page below then
    # keeps its place in the element tree whether the notice shows or not: an element whose place changes is drawn anew
    # by the browser, which loses a click on it, its scroll and its open state.
    slot = st.container()
    if state.read_only() and page.title != "Projects":
        notice = slot.container(horizontal=True, vertical_alignment="center")
        notice.info(state.READ_ONLY_MESSAGE, icon=":material/visibility:", width="stretch")
        if notice.button("Save a copy", type="primary", icon=":material/content_copy:", key="save_copy"):
            state.save_copy()
            rerun()
    try:
        with app_run():
            page.run()
    finally:  # also after a page that stopped early: an edit the database did not take says so
        if state.unsaved():
            with slot:
                state.render_unsaved()
    if page.title != "Build" or canvas_painted():
        _preload()  # after the canvas's first paint: importing TensorFlow competes with it for the CPU
