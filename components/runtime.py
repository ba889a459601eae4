"""Process-wide adjustments of Streamlit's script runner for an app that keeps Keras loaded.

After every script run (each fragment rerun too), Streamlit calls
`keras.backend.clear_session()` on its own (`_clean_problem_modules`). With
Keras 3 on TensorFlow that runs a full `gc.collect()` (about 0.3 s with
TensorFlow loaded), clears TensorFlow's kernel cache and replaces Keras's
per-thread state for every thread, training threads included. Training
with the live chart open ran 7x slower because of it. LayerCanvas names
every layer itself and keeps models in session state, so it needs none of
that: the Keras part is switched off; the rest of the clean-up (matplotlib)
is kept.
"""

from __future__ import annotations

import contextlib
import sys
import threading

_lock = threading.Lock()
_done = False


def keep_keras_session() -> None:
    """Stops Streamlit from clearing the Keras session after each script run (idempotent)."""
    global _done
    with _lock:
        if _done:
            return
        try:
            from streamlit.runtime.scriptrunner import script_runner
        except ImportError:  # another Streamlit layout: nothing to switch off
            _done = True
            return
        def clean_but_keras() -> None:
            # What Streamlit's clean-up does besides Keras (LayerCanvas draws no matplotlib figures, but a
            # future page might).
            plt = sys.modules.get("matplotlib.pyplot")
            if plt is not None:
                with contextlib.suppress(Exception):
                    plt.close("all")

        script_runner._clean_problem_modules = clean_but_keras
        _done = True
