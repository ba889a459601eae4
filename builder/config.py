"""Settings read from the environment."""

from __future__ import annotations

import os


def env_int(name: str, default: int, low: int | None = None) -> int:
    """A whole number from the environment; a malformed value, or one below `low`, falls back to the default."""
    try:
        value = int(os.environ.get(name, str(default)))
    except ValueError:
        return default
    return default if low is not None and value < low else value
