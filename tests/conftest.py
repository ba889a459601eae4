import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The app's store: a fresh database per test session, never the developer's own.
if "LAYERCANVAS_DB" not in os.environ:
    import tempfile

    os.environ["LAYERCANVAS_DB"] = os.path.join(tempfile.mkdtemp(prefix="layercanvas-test-"), "test.db")

# CI runs the property tests with a fixed seed, so a landing never hangs on a new random example;
# local runs explore new examples each time (and remember failures in .hypothesis/).
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


def _pages_through_app_py() -> None:
    """AppTest runs like a server that has served its first page.

    AppTest resets `PagesManager.uses_pages_directory` before every run, so with a `pages/` folder beside
    app.py every run after the first would execute the page file on its own (with widget ids of another page
    hash), as a real server does only until app.py first calls `st.navigation`. Keep it off, so every AppTest
    run goes through app.py, as every request to a running server does.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:
        return
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init


_pages_through_app_py()


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for this test session (tests/pgserver.py), started on first use."""
    from tests.pgserver import PostgresServer

    server = PostgresServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray cluster (2 CPUs, no GPU) for this test session (tests/raycluster.py), started on first use; only
    inside a network namespace of its own, which scripts/test makes."""
    from tests.raycluster import RayCluster

    try:
        cluster = RayCluster(cpus=2)
    except RuntimeError as e:
        pytest.fail(str(e))
    yield cluster
    cluster.close()


@pytest.fixture(autouse=True)
def _keras_for_app_tests(request):
    """AppTest pages run as in a browser whose canvas has painted: with TensorFlow loaded, as it is in a whole
    run of the suite by the time they run. Without it, a page test run on its own would see the canvas's
    first paint (the Build page waits for the browser's "painted", which AppTest never sends)."""
    if request.module.__name__.rsplit(".", 1)[-1].startswith("test_app_"):
        from builder.kerasenv import load_keras

        load_keras()
