"""Start from a pretrained keras.applications network (a new project)."""

from components.navigation import ensure_navigation
from components.pretrained_panel import render

ensure_navigation()
render()
