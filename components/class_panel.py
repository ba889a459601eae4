"""The Class page's parts: a teacher's classes (create, join link, hand-outs, every student's model and run live, the
leaderboard), and a student's side (join by link, their classes, the leaderboard when shown). Privacy is the
store's (builder.classes): these functions only draw what it returns."""

from __future__ import annotations

import html
import json
import urllib.parse

import streamlit as st

from builder import classes as cl
from builder.classes import ClassError, ClassInfo
from builder.data import compat
from builder.data.datachoice import DataChoice, DataChoiceError, keep_upload
from builder.data.datasets import BUILTIN, DatasetError
from builder.model.catalog import LAYERS
from builder.model.graph import Graph
from builder.model.layout import NODE_H, NODE_W, missing_positions
from builder.model.templates import template
from components import state
from components.data_panel import load_choice, uploads_dir
from components.messages import flash
from components.runtime import rerun
from components.summary_panel import compact
from components.text import md_escape

PICK = "lc_class_pick"  # the teacher's class shown
REFRESH_S = 3.0  # the students' grid and leaderboard refresh this often while open
PER_ROW = 3
PAGE = 24  # cards drawn at once
STATUS = {"queued": "queued", "compiling": "compiling", "running": "training", "finished": "finished",
          "stopped": "stopped", "failed": "failed", "interrupted": "interrupted", None: "no run yet"}


def join_link(token: str) -> str:
    """The class's join link on this server (the address the teacher's browser uses)."""
    try:
        parts = urllib.parse.urlsplit(st.context.url or "")
        base = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    except Exception:  # noqa: BLE001 - no address known (a test): a relative link
        base = ""
    return f"{base}/classes?join={urllib.parse.quote(token)}"


# -- the teacher's side ---------------------------------------------------------------------------------------------
def render_teacher_key(store, me: str) -> None:
    """Without login: the teacher key, typed once in this browser."""
    if not cl.teacher_key_set():
        return
    with st.expander("I teach: enter the teacher key", icon=":material/key:"):
        with st.form("teacher_key", border=False):
            typed = st.text_input("Teacher key", type="password", help="Set on the server as LAYERCANVAS_TEACHER_KEY.")
            if st.form_submit_button("Enter"):
                if cl.enter_teacher_key(store, me, typed):
                    flash("success", "You can make classes in this browser now.")
                    rerun()
                st.error("That is not the teacher key.")


def render_new_class(store, me: str) -> None:
    with st.expander("New class", icon=":material/add_circle:", expanded=not cl.teacher_classes(store, me)):
        with st.form("new_class", border=False):
            name = st.text_input("Class name", max_chars=cl.NAME_MAX, placeholder="Deep learning, group B")
            data = st.selectbox("Its data (the leaderboard scores every model on its test split)",
                                [None, *sorted(n for n, d in BUILTIN.items() if d.task == "classification")],
                                format_func=lambda n: "none (no leaderboard)" if n is None else n,
                                help="A built-in dataset's labels are public. For a test split the students never "
                                     "see, upload your own file below.")
            own = st.file_uploader("Or your own data file: students get its training part; its test split, labels "
                                   "and all, stays on the server", type=["csv", "npz", "zip"], key="class_file",
                                   help="CSV (the label in the last column), NPZ (x_train, y_train, and x_test, "
                                        "y_test for a test split of your choosing) or a zip of images in one folder "
                                        "per class.")
            if st.form_submit_button("Create class", type="primary"):
                try:
                    made = _create_class(store, me, name, data, own)
                except (ClassError, DataChoiceError, DatasetError) as e:
                    st.error(md_escape(str(e)))
                else:
                    st.session_state[PICK] = made.id
                    flash("success", f"Class {made.name} made: send its join link to your students.")
                    rerun()


def _create_class(store, me: str, name: str, builtin: str | None, own) -> ClassInfo:
    """A class on a built-in dataset, or on the teacher's own file (its test split kept hidden), or on none."""
    if own is None:
        return cl.create_class(store, me, name, None if builtin is None else {"kind": "builtin", "name": builtin})
    cl.clean_name(name, "class name")  # before reading a big file
    raw = own.getvalue()
    students, train, test = cl.split_upload(raw, own.name)
    keep_upload(uploads_dir(), students, train)
    return cl.create_class(store, me, name, students.to_dict(), hidden=test)


def render_teacher(store, me: str) -> None:
    """A teacher's classes: pick one, then its link, hand-outs, students and leaderboard."""
    render_new_class(store, me)
    mine = cl.teacher_classes(store, me)
    if not mine:
        st.caption("No class yet.")
        return
    ids = [c.id for c in mine]
    if st.session_state.get(PICK) not in ids:
        st.session_state[PICK] = ids[0]
    by_id = {c.id: c for c in mine}
    cid = st.selectbox("Class", ids, key=PICK, format_func=lambda i: by_id[i].name)
    c = by_id[cid]
    st.text_input("Join link (send it to your students)", value=join_link(c.token), key=f"link:{cid}", disabled=True)
    row = st.container(horizontal=True, vertical_alignment="center", gap="medium")  # wraps on a narrow screen
    hand = board = row
    if hand.button("Hand out the open project", icon=":material/send:", key=f"handout:{cid}",
                   help="Every student gets their own copy of it, marked “from the teacher”; students who join "
                        "later too."):
        graph = state.get_graph()
        try:
            cl.hand_out(store, cid, me, graph, c.data)
        except ClassError as e:
            st.error(md_escape(str(e)))
        else:
            flash("success", f"Handed out {graph.name} to the class.")
            misfit = _misfit(graph, c.data)
            if misfit:
                flash("warning", misfit)
            rerun()
    shown = board.toggle("Students see the leaderboard", value=c.board, key=f"board:{cid}")
    names = board.toggle("with names", value=c.names, key=f"names:{cid}")
    if (shown, names) != (c.board, c.names):
        cl.set_board(store, cid, me, shown, names)
        rerun()
    # Made only while chosen: the leaderboard's chart is not drawn behind the grid (the page opens quicker).
    students, ranking = st.tabs(["Students", "Leaderboard"], key=f"tab:{cid}", on_change="rerun")
    if students.open:
        with students:
            _students(store, c, me)
    if ranking.open:
        with ranking:
            _leaderboard(store, c, me)


def _misfit(graph: Graph, data: dict | None) -> str | None:
    """What keeps a handed-out model from the class's data (its runs then get no score), or None."""
    choice = DataChoice.from_dict(data)
    if choice is None:
        return None
    try:
        ds = load_choice(choice)
    except DatasetError:
        return None
    errors = [i for i in compat.check(graph, ds) if i.level == compat.ERROR]
    if not errors:
        return None
    return (f"{graph.name} does not fit the class's data ({ds.name}): {errors[0].message.rstrip('.')}. Its runs "
            "get no score until it does: your students can fix it, or hand out a model that fits.")


@st.fragment(run_every=REFRESH_S)
def _students(store, c: ClassInfo, me: str) -> None:
    """Every student of the class, live: their current model and their last run."""
    rows = cl.overview(store, c.id, me)
    if not rows:
        st.caption("No student yet: send them the join link.")
        return
    f1, f2, f3 = st.columns([2, 1.2, 1.2])
    text = f1.text_input("Find a student", key=f"find:{c.id}", placeholder="Name")
    status = f2.selectbox("Status", ["any", *dict.fromkeys(STATUS.values())], key=f"status:{c.id}")
    order = f3.selectbox("Sort by", ["name", "score", "last change"], key=f"sort:{c.id}")
    rows = [r for r in rows if text.lower() in r["name"].lower() and (status == "any" or _status(r) == status)]
    if order == "score":
        rows.sort(key=lambda r: -_score(r))
    elif order == "last change":
        rows.sort(key=lambda r: -r["updated_at"])
    if len(rows) > PAGE:  # a big class: a page of cards at a time (the page stays quick to draw)
        pages = (len(rows) + PAGE - 1) // PAGE
        n = st.number_input(f"Page (of {pages})", 1, pages, 1, key=f"page:{c.id}")
        rows = rows[(n - 1) * PAGE:n * PAGE]
    for start in range(0, len(rows), PER_ROW):
        for col, row in zip(st.columns(PER_ROW), rows[start:start + PER_ROW], strict=False):
            with col.container(border=True):
                _card(row, c)


def _status(row: dict) -> str:
    return STATUS.get(row["status"], str(row["status"]))


def _score(row: dict) -> float:
    return row["class_score"] if row["class_score"] is not None else -1.0


def _card(row: dict, c: ClassInfo) -> None:
    """A student's card: name, a drawing of their model, their last run, sizes, and Open. Few elements: a page of
    cards is drawn at once, and again at every refresh."""
    line = _status(row)
    progress = row["progress"] or {}
    if row["status"] == "running" and progress.get("epochs"):
        line = f"training, epoch {progress.get('epoch', 0)} of {progress['epochs']}"
    if row["class_score"] is not None:
        line += f" · test accuracy {row['class_score']:.1%}"
    sizes = [f"{row['layers']} layers" if row["layers"] is not None else None,
             f"{compact(row['params'] if row['params'] is not None else row['run_params'])} params"
             if (row["params"] or row["run_params"]) is not None else None,
             f"{compact(row['macs'])} MACs" if row["macs"] is not None else None]
    st.markdown(f"**{md_escape(row['name'])}**" + (" · left the class" if row["left"] else ""))
    graph = Graph.loads(row["graph"]) if row["graph"] else None
    if graph is not None and graph.nodes:
        st.image(sketch(graph), width=220)
    st.markdown(f":gray[:small[{md_escape(line)}  \n{md_escape(' · '.join(s for s in sizes if s))}]]")
    if row["project_id"] and st.button("Open (read-only)", key=f"open:{row['project_id']}", width="stretch"):
        if state.open_project(row["project_id"]):
            st.switch_page("pages/build.py")


def sketch(graph: Graph, width: int = 220, height: int = 110) -> str:
    """A small drawing of a model: its layers as boxes where the canvas puts them, and its connections. No text of
    the user's is in it."""
    g = missing_positions(graph)
    pos = {n.id: g.layout[n.id] for n in g.nodes if n.id in g.layout}
    if not pos:
        return ""
    x0, y0 = min(p[0] for p in pos.values()), min(p[1] for p in pos.values())
    x1, y1 = max(p[0] for p in pos.values()) + NODE_W, max(p[1] for p in pos.values()) + NODE_H
    k = min((width - 8) / max(x1 - x0, 1), (height - 8) / max(y1 - y0, 1))
    ox, oy = (width - (x1 - x0) * k) / 2, (height - (y1 - y0) * k) / 2

    def at(nid: str) -> tuple[float, float]:
        x, y = pos[nid]
        return ox + (x - x0) * k, oy + (y - y0) * k

    parts = []
    for e in g.edges:
        if e.source in pos and e.target in pos:
            (sx, sy), (tx, ty) = at(e.source), at(e.target)
            parts.append(f'<line x1="{sx + NODE_W * k / 2:.1f}" y1="{sy + NODE_H * k / 2:.1f}" '
                         f'x2="{tx + NODE_W * k / 2:.1f}" y2="{ty + NODE_H * k / 2:.1f}" stroke="#9aa5b1"/>')
    palette = ["#3b82f6", "#8b5cf6", "#10b981", "#f59e0b", "#ef4444", "#06b6d4", "#64748b"]
    cats: dict[str, str] = {}
    for n in g.nodes:
        if n.id not in pos:
            continue
        cat = LAYERS[n.type].category if n.type in LAYERS else "?"
        color = cats.setdefault(cat, palette[len(cats) % len(palette)])
        x, y = at(n.id)
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{NODE_W * k:.1f}" height="{NODE_H * k:.1f}" rx="2" '
                     f'fill="#fff" stroke="{color}" stroke-width="1.5"/>')
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{html.escape(str(len(g.nodes)))} layers">' + "".join(parts) + "</svg>")


@st.fragment(run_every=REFRESH_S)
def _leaderboard(store, c: ClassInfo, me: str) -> None:
    if c.data is None:
        st.caption("This class has no data of its own: nothing to rank on.")
        return
    rows = cl.leaderboard(store, c.id, me)
    where = ("the class's hidden test split (students never get it)" if c.data.get(cl.HIDDEN)
             else f"{md_escape(c.data.get('name', 'the class data'))}'s test split")
    st.caption(f"Each student's best test accuracy on {where}, computed by the server when their run ends.")
    if not rows:
        st.caption("No finished run yet.")
        return
    render_board(rows)
    st.download_button("Download as CSV", cl.board_csv(rows), file_name="leaderboard.csv", mime="text/csv",
                       icon=":material/download:", key=f"csv:{c.id}")


def render_board(rows: list[dict]) -> None:
    """The ranking as a table, and the class as a chart: accuracy against MACs, the Pareto front marked."""
    import plotly.graph_objects as go

    st.dataframe([{"rank": r["rank"], "name": r["name"], "test accuracy": r["score"], "params": r["params"],
                   "MACs": r["macs"]} for r in rows], hide_index=True,
                 column_config={"test accuracy": st.column_config.NumberColumn(format="percent")})
    front = pareto(rows)
    fig = go.Figure()
    fig.add_scatter(x=[r["macs"] for r in rows], y=[r["score"] for r in rows], mode="markers",
                    text=[r["name"] for r in rows], name="students",
                    hovertemplate="%{text}: %{y:.1%} at %{x:,} MACs<extra></extra>")
    fig.add_scatter(x=[r["macs"] for r in front], y=[r["score"] for r in front], mode="lines+markers",
                    name="Pareto front", line={"dash": "dot"}, hoverinfo="skip")
    fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10}, xaxis_title="MACs (one sample)",
                      yaxis_title="test accuracy", yaxis_tickformat=".0%")
    st.plotly_chart(fig, key=f"board_chart:{json.dumps([r['run_id'] for r in rows])[:60]}")


def pareto(rows: list[dict]) -> list[dict]:
    """The runs no other run beats on both counts (higher accuracy with no more MACs), by MACs."""
    pts = sorted((r for r in rows if r["macs"] is not None and r["score"] is not None),
                 key=lambda r: (r["macs"], -r["score"]))
    front, best = [], -1.0
    for r in pts:
        if r["score"] > best:
            front.append(r)
            best = r["score"]
    return front


# -- the student's side ---------------------------------------------------------------------------------------------
def render_join(store, me: str, token: str) -> None:
    """The join link's class: a display name, then Join. A wrong, expired or ended link says so."""
    try:
        c = cl.class_of_token(store, token)
    except ClassError as e:
        st.error(md_escape(str(e)[0].upper() + str(e)[1:] + "."), icon=":material/link_off:")
        return
    if any(k.id == c.id for k in cl.member_classes(store, me)):
        st.info(md_escape(f"You are in {c.name}."), icon=":material/school:")
        return
    with st.form("join_class"):
        st.markdown(f"**Join {md_escape(c.name)}**")
        name = st.text_input("Your name, as your teacher will see it", max_chars=cl.NAME_MAX)
        if st.form_submit_button("Join", type="primary"):
            try:
                cl.join(store, token, me, name)
            except ClassError as e:
                st.error(md_escape(str(e)))
            else:
                st.query_params.pop("join", None)
                flash("success", f"You joined {c.name}. What your teacher hands out is in your projects.")
                rerun()


def render_student(store, me: str) -> None:
    """The classes this person is in, what was handed out to them, and the leaderboard when shown."""
    mine = cl.member_classes(store, me)
    if not mine:
        st.caption("You are in no class. Open your teacher's join link to join one.")
        return
    for c in mine:
        with st.container(border=True):
            st.markdown(f"**{md_escape(c.name)}**")
            ids = cl.class_projects(store, c.id, me)
            got = [p for p in store.list_projects(owner=me, limit=200) if p["id"] in ids]
            for p in got:
                a, b = st.columns([4, 1], vertical_alignment="center")
                a.markdown(md_escape(p["name"]))
                if b.button("Open", key=f"mine:{p['id']}"):
                    if state.open_project(p["id"]):
                        st.switch_page("pages/build.py")
            if c.board and c.data is not None:
                try:
                    rows = cl.leaderboard(store, c.id, me)
                except ClassError:
                    rows = []
                if rows:
                    render_board(rows)
            if st.button("New project in this class", icon=":material/add_circle:", key=f"new_in:{c.id}",
                         help="An empty project; its runs count for the class (your teacher sees them)."):
                pid = cl.new_class_project(store, c.id, me, template("empty"))
                if state.open_project(pid):
                    st.switch_page("pages/build.py")
            if st.button("Leave this class", key=f"leave:{c.id}", help="Your projects stay yours."):
                cl.leave(store, c.id, me)
                rerun()

