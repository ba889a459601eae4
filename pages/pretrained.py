"""Start from a pretrained keras.applications network (a new project)."""

from components import state
from components.pretrained_panel import render

state.ensure_navigation()
render()
