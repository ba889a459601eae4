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
from typing import NoReturn

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


_frozen_after_page = False


def freeze_after_first_page() -> None:
    """Once per process, after the first Build page that shows a model: a full collection, then `gc.freeze()`.

    `builder.kerasenv` freezes what exists once TensorFlow is loaded; the page then imports more for good (pandas
    and pyarrow for the summary table, Streamlit's element code, the catalog's first model). Left in sight, those
    made Python's occasional full collections take 0.1 to 0.15 s in the middle of an edit (the slow tail of the
    edit latency, measured with `gc.callbacks` during bench/browser.py).
    """
    global _frozen_after_page
    with _lock:
        if _frozen_after_page:
            return
        _frozen_after_page = True
    import gc

    gc.collect()
    gc.freeze()
    # Fewer, larger young collections: a model build makes tens of thousands of short-lived containers, and
    # most are freed by reference counting before a collection would look at them.
    gc.set_threshold(10_000, 50, 100)


def rerun(scope: str = "app") -> NoReturn:
    """`st.rerun()`, after a last look for a run the browser asked for meanwhile.

    A click on a sidebar link (or a button) that arrives while this run works waits as a rerun request. A
    plain `st.rerun()` folds its own request into it, and Streamlit keeps the page of the newer request
    (`ScriptRequests._request_rerun_locked`): the click on the link would be lost. Writing an element first is
    a yield point: a request that is waiting stops this run there and runs as the browser sent it (the empty
    element is then never sent). With no request waiting, the empty element is sent (it draws nothing) and the
    rerun follows.

    `scope="fragment"` reruns only the fragment this run is in, when this is a fragment's own run (a full run, or
    AppTest's, reruns the app).
    """
    import streamlit as st

    if scope == "fragment" and not in_fragment_run():
        scope = "app"
    st.empty()
    st.rerun(scope=scope)


def partial_reruns() -> bool:
    """Whether a callback may name the fragments to rerun (`st.rerun(key)`): the rest of the page stays as the
    browser shows it. Not under AppTest (its session id is "test session id"), which keeps only what the last run
    drew: there every rerun is whole."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx is not None and ctx.session_id != "test session id"


def in_fragment_run() -> bool:
    """Whether this run is a fragment's own (the rest of the page is not run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)
