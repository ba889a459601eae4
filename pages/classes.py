"""The Class page: a teacher's classes (join link, hand-outs, every student's model and run, the leaderboard), and
a student's (join by link, what was handed out, the leaderboard when the teacher shows it)."""

import streamlit as st

from builder import classes as cl
from components import state
from components.class_panel import render_join, render_student, render_teacher, render_teacher_key
from components.navigation import ensure_navigation
from components.owner import current_owner, login_configured, signed_in_user

ensure_navigation()

store = state.get_store()
me = current_owner()
st.subheader("Class")
token = st.query_params.get("join")
if token:
    render_join(store, me, token)
if cl.is_teacher(me, cl.key_entered(store, me)):
    render_teacher(store, me)
else:
    render_student(store, me)
    if login_configured() and signed_in_user() is None:
        st.caption("Teachers: sign in (sidebar) with the address the server names as a teacher's.")
    elif not me.startswith("user:"):
        render_teacher_key(store, me)
    if not cl.teacher_key_set() and not cl.teacher_emails():
        st.caption("Teaching? This server names no teacher yet: start it with LAYERCANVAS_TEACHER_KEY set (a secret "
                   "you then type here once), or with login and your e-mail in LAYERCANVAS_TEACHERS.")
