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
