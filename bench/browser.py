"""In a real browser: cold start to the first nodes painted, edits and drops to an updated page.

The yardsticks are bare Streamlit pages run the same way in the same run (issue 25's targets):
- cold start: from launching `streamlit run app.py` to the canvas painting its first node in headless Chromium
  (the browser already running), and on to the totals (which wait for TensorFlow). Targets: <= 2.5 s and <= 1.3x
  the floor, a bare one-line Streamlit app launched and painted the same way.
- edit: on a 50-layer and a 200-layer chain, change `units` of a Dense in the inspector (n24, the middle of 50;
  n4 of 200, in view) and wait until the page shows the new total AND the canvas node shows the new units.
  Targets: p95 <= 2x (50 layers) and <= 4x (200) the floor's p95: a Streamlit page with a number box and a metric,
  edited the same way, open beside the app the whole run: each round of the app is followed by a round of the
  floor, and each target compares with the floor's rounds taken between its own (a machine that slows down or
  speeds up during the run moves both alike). The reference column is raw Keras building the same model in this
  process, for scale.
- drop: drag Dense from the palette onto the output handle of the last layer and wait until the new node is
  painted and the total follows. Target: p95 <= 2.5x the p95 of the floor's rounds taken between its own.

Usage:
    python bench/browser.py [--reps N] [--json PATH] [--no-cold]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from itertools import pairwise
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `builder` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import emit, machine
from builder.model.graph import Edge, Graph, Node
from builder.model.share import link
from tests.e2e.helpers import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
NODE = ".react-flow__node"
COLD_TARGET_MS = 2500
COLD_FLOOR_RATIO = 1.3  # x the bare Streamlit cold start (issue 25)
EDIT_TARGETS = {50: 2.0, 200: 4.0}  # p95, x the bare-Streamlit edit floor's p95 measured in the same run
DROP_TARGET = 2.5  # the same
WARMUP = 5  # untimed rounds first: a server just started is still busy (TensorFlow's first builds, caches)
# The canvas lives in a shadow root: page scripts reach it through its host.
CANVAS_JS = ("(window.__lcRoot = window.__lcRoot || [...document.querySelectorAll('*')]"
             ".find(e => e.shadowRoot && e.shadowRoot.querySelector('.lc-canvas')).shadowRoot)")


def chain_graph(n: int = 50) -> Graph:
    """Input [64], then Dense(64, relu) / Dropout(0.1) alternating, n layers in all."""
    nodes = [Node("input", "Input", {"shape": [64]})]
    for i in range(n):
        nodes.append(Node(f"n{i}", "Dense", {"units": 64, "activation": "relu"}) if i % 2 == 0
                     else Node(f"n{i}", "Dropout", {"rate": 0.1}))
    ids = [node.id for node in nodes]
    return Graph(tuple(nodes), tuple(Edge(a, b) for a, b in pairwise(ids)), name=f"chain{n}")


def total_params(graph: Graph) -> int:
    """Dense layers only: in*units + units each."""
    total, width = 0, 64
    for node in graph.nodes:
        if node.type == "Dense":
            units = node.params["units"]
            total += width * units + units
            width = units
    return total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: str, script: str = "app.py", env: dict | None = None) -> tuple[subprocess.Popen, str, float]:
    """(process, url, launch time) of a fresh `streamlit run <script>` (app.py by default), `env` added to this
    process's environment."""
    port = _free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {}), "LAYERCANVAS_DB": db},
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                return proc, url, started
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("streamlit did not start")


def keras_import_ms() -> float:
    """`import keras` in a fresh process: what a cold start would cost if it waited for TensorFlow."""
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import keras"], check=True, capture_output=True)
    return (time.perf_counter() - t) * 1000


# Installed in the page before it loads: from the first frame on, every animation frame looks for what counts as
# painted, and keeps the wall-clock time of the first frame that shows it. (Playwright's own waits poll, and a
# main thread busy with what the page does next can delay the poll by a few hundred ms after the paint.)
PAINT_PROBE = """(() => {
  const shown = (el) => el && el.checkVisibility() && el.getBoundingClientRect().width > 0;
  const found = () => {
    if (document.body && (document.body.innerText || "").split(/\\s+/).includes("ready")) return true;
    for (const host of document.querySelectorAll("*")) {
      if (host.shadowRoot && shown(host.shadowRoot.querySelector(".react-flow__node"))) return true;
    }
    return false;
  };
  const tick = () => { if (found()) window.__paintedAt = Date.now(); else requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
})();"""


@contextlib.contextmanager
def _served(browser, db: str, script: str = "app.py"):
    """A fresh `streamlit run <script>` and a 1400x900 page: yields (page, url, launch time); both closed after."""
    proc, url, started = start_server(db, script)
    page = None
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        yield page, url, started
    finally:
        if page is not None:
            page.close()
        proc.terminate()
        proc.wait(10)


def _rounds(reps: int, step, floor: "Floor | None" = None) -> list[float]:
    """ms of the timed part of `reps` rounds, after WARMUP rounds. `step(i)` does the untimed preparation
    and returns the action to time, which returns once its effect shows. With `floor`, a round of the floor follows
    each one (kept in `floor.times`)."""
    times = []
    for i in range(reps + WARMUP):
        act = step(i)
        t = time.perf_counter()
        act()
        if i >= WARMUP:
            times.append((time.perf_counter() - t) * 1000)
        if floor is not None:
            floor.round(timed=i >= WARMUP)
    return times


def _idle(page, pause_ms: int = 150) -> None:
    """Until no element on the page is stale (the last rerun is drawn), then a pause (not timed)."""
    page.wait_for_function("document.querySelectorAll('[data-stale=\"true\"]').length === 0")
    page.wait_for_timeout(pause_ms)


def _launch_to_paint(browser, db: str, script: str, ready: str) -> tuple[float, float | None]:
    """(ms from launching the server to the first frame showing `ready`, ms to the first total or None)."""
    launched = time.time()
    with _served(browser, db, script) as (page, url, started):
        page.add_init_script(PAINT_PROBE)
        page.goto(url)
        page.locator(ready).first.wait_for(timeout=60_000)
        page.wait_for_function("() => window.__paintedAt !== undefined", timeout=60_000)
        painted = page.evaluate("() => window.__paintedAt") - launched * 1000
        summary = None
        if script == "app.py":
            page.locator('[data-testid="stMetricValue"]').filter(has_text=re.compile(r"\d")).first.wait_for(
                timeout=120_000)
            summary = (time.perf_counter() - started) * 1000
    return painted, summary


def cold_start(browser, db: str, reps: int = 5) -> list[dict]:
    """Median of `reps` launches of the app and of the bare floor, alternated."""
    ours, floor, summaries = [], [], []
    for i in range(reps):
        for script in (("app.py", "bench/floor/bare.py") if i % 2 == 0 else ("bench/floor/bare.py", "app.py")):
            ms, summary = _launch_to_paint(browser, f"{db}.{i}", script, NODE if script == "app.py" else "text=ready")
            (ours if script == "app.py" else floor).append(ms)
            if summary is not None:
                summaries.append(summary)
    ours_ms, floor_ms = statistics.median(ours), statistics.median(floor)
    ref = keras_import_ms()
    return [
        {**_figure("floor: bare streamlit cold start", floor_ms, floor_ms, None), "ratio": None},
        {**_figure("cold start -> first nodes painted", ours_ms, floor_ms, COLD_TARGET_MS),
         "passed": ours_ms <= COLD_TARGET_MS and ours_ms <= COLD_FLOOR_RATIO * floor_ms,
         "target": f"<= {COLD_TARGET_MS} ms and <= {COLD_FLOOR_RATIO}x floor",
         "note": f"ratio to the bare floor; runs {', '.join(f'{m:.0f}' for m in ours)}"},
        {**_figure("cold start -> summary", statistics.median(summaries), ref, None),
         "note": "waits for TensorFlow; ratio to `import keras` in a fresh process"},
    ]


class Floor:
    """The floor of the edit and drop targets: a Streamlit page with a number box and a metric that follows it
    (bench/floor/edit.py), nothing else, edited the same way (fill, then Enter, until the metric shows the value).
    Open for the whole run; `round` is called after each round of what is measured."""

    def __init__(self, browser, db: str):
        from playwright.sync_api import expect

        self._served = _served(browser, db, "bench/floor/edit.py")
        self.page, url, _ = self._served.__enter__()
        self.page.goto(url)
        self.metric = self.page.locator('[data-testid="stMetricValue"]')
        expect(self.metric).to_have_text("64,000", timeout=60_000)
        self.value, self.times, self.all = 64, [], []

    def round(self, timed: bool = True) -> None:
        from playwright.sync_api import expect

        self.value += 1
        _idle(self.page)
        box = self.page.get_by_role("spinbutton", name="units")
        box.fill(str(self.value))
        t = time.perf_counter()
        box.press("Enter")
        expect(self.metric).to_have_text(f"{self.value * 1000:,}", timeout=30_000)
        if timed:
            self.times.append((time.perf_counter() - t) * 1000)

    def take(self) -> list[float]:
        """The floor's times since the last take."""
        times, self.times = self.times, []
        self.all += times
        return times

    def close(self) -> None:
        self._served.__exit__(None, None, None)

    def figure(self) -> dict:
        p95 = _p95(self.all)
        return {**_figure("floor: edit -> metric, no canvas, p95", p95, p95, None), "ratio": None,
                "note": f"p50 {statistics.median(self.all):.0f} ms; all {len(self.all)} rounds (each target is "
                        "checked against the rounds taken between its own)"}


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[18] if len(times) >= 2 else times[0]


def _total_metric(page):
    return page.locator('[data-testid="stMetric"]').filter(has_text="Total params").locator(
        '[data-testid="stMetricValue"]')


def _wait_page(page, total: str, node_js: str) -> None:
    """Until the Total params metric reads `total` and `node_js` (about the canvas root `r`) holds. The totals are
    drawn by the canvas (in its shadow root) in a browser; the page's own metrics are looked at too."""
    page.wait_for_function(
        "([total, body]) => {"
        f" const r = {CANVAS_JS}; if (!r) return false;"
        " const m = [...r.querySelectorAll('[data-testid=\"stMetric\"]'),"
        " ...document.querySelectorAll('[data-testid=\"stMetric\"]')]"
        ".find(e => e.textContent.includes('Total params'));"
        " if (!m) return false;"
        " return m.querySelector('[data-testid=\"stMetricValue\"]').textContent.trim() === total"
        " && new Function('r', body)(r); }",
        arg=[total, node_js], polling="raf", timeout=30_000)


def edit_latency(browser, db: str, reps: int, n: int, floor: Floor) -> list[dict]:
    """p50/p95 of an inspector edit -> the new total on the page and the new units on the canvas node, each round
    followed by one of the floor's."""
    from playwright.sync_api import expect

    from builder.kerasenv import load_keras

    graph = chain_graph(n)
    with _served(browser, db) as (page, url, _):
        page.goto(link(url, graph))
        expect(_total_metric(page)).to_have_text(f"{total_params(graph):,}", timeout=120_000)
        # The Dense in the middle of the chain (as the benchmark before this canvas did): below the fitted view,
        # so it is clicked by a dispatched event. Above 150 layers the canvas draws only what is in view, so the
        # 200-layer chain edits a Dense in view near its top (nearly every layer after it is called again).
        mid = f"n{(n // 2) - (n // 2) % 2}" if n <= 150 else "n4"
        page.locator(f"{NODE}[data-id='{mid}']").dispatch_event("click")
        page.get_by_role("spinbutton", name="units *").wait_for(timeout=30_000)

        def step(i):
            value = 65 + i
            _settle(page)
            units = page.get_by_role("spinbutton", name="units *")
            units.fill(str(value))
            expected = f"{total_params(graph.set_param(mid, 'units', value)):,}"
            shown = f"return (r.querySelector(\"[data-id='{mid}']\") || {{}}).textContent?.includes('units {value} ')"
            return lambda: (units.press("Enter"), _wait_page(page, expected, shown))

        times = _rounds(reps, step, floor)
    floor_ms = _p95(floor.take())
    keras = load_keras()
    ref = []
    for _ in range(5):
        t = time.perf_counter()
        x = inp = keras.Input((64,), name="input")
        for node in graph.nodes[1:]:
            layer = (keras.layers.Dense(64, activation="relu", name=node.id) if node.type == "Dense"
                     else keras.layers.Dropout(0.1, name=node.id))
            x = layer(x)
        keras.Model(inp, x)
        ref.append((time.perf_counter() - t) * 1000)
    ref_ms = statistics.median(ref)
    p95 = _p95(times)
    return [
        _figure(f"edit -> totals and canvas, {n} layers, p50", statistics.median(times), ref_ms, None),
        {**_figure(f"edit -> totals and canvas, {n} layers, p95", p95, ref_ms, None),
         "passed": p95 <= EDIT_TARGETS[n] * floor_ms, "target": f"<= {EDIT_TARGETS[n]}x floor",
         "note": f"{p95 / floor_ms:.2f}x the floor's p95 in its rounds ({floor_ms:.1f} ms); ratio: to raw Keras "
                 "building it"},
    ]


def drop_latency(browser, db: str, reps: int, floor: Floor) -> list[dict]:
    """Drag Dense from the palette onto the output handle of the last layer: until it is painted and the total
    follows. The chain grows by one Dense(32) a drop (the first after the (None, 3) output: 3 x 32 + 32 weights,
    then 32 x 32 + 32 each), as when building a model; the view follows the new layer down."""
    with _served(browser, db) as (page, url, _):
        page.goto(url)
        page.locator(f"{NODE}[data-id='output']").wait_for(timeout=60_000)
        _total_metric(page).filter(has_text="243").wait_for(timeout=120_000)
        page.get_by_placeholder("Search layers").fill("Dense")
        item = page.locator(".lc-item[data-type='Dense']")

        def step(i):
            _idle(page, 200)
            src = item.bounding_box()
            last = "output" if i == 0 else f"dense_{i + 1}"
            dst = page.locator(f"{NODE}[data-id='{last}'] .react-flow__handle.source").bounding_box()
            page.mouse.move(src["x"] + 20, src["y"] + 8)
            page.mouse.down()
            page.mouse.move(src["x"] + 40, src["y"] + 12, steps=2)
            page.mouse.move(dst["x"] + dst["width"] / 2, dst["y"] + dst["height"] / 2, steps=5)
            total = 243 + (3 * 32 + 32) + i * (32 * 32 + 32)
            new = f".react-flow__node[data-id='dense_{i + 2}']"
            return lambda: (page.mouse.up(), _wait_page(page, f"{total:,}", f"return !!r.querySelector(\"{new}\")"))

        times = _rounds(reps, step, floor)
    floor_ms = _p95(floor.take())
    return [
        {**_figure("drop from the palette -> node painted and totals, p50", statistics.median(times), 1, None),
         "ratio": None},
        {**_figure("drop from the palette -> node painted and totals, p95", _p95(times), 1, None), "ratio": None,
         "passed": _p95(times) <= DROP_TARGET * floor_ms, "target": f"<= {DROP_TARGET}x floor",
         "note": f"{_p95(times) / floor_ms:.2f}x the floor's p95 in its rounds ({floor_ms:.1f} ms)"},
    ]


def _settle(page) -> None:
    """Until nothing on the page is stale and the inspector shows one `units` box (not timed)."""
    page.wait_for_function(
        "document.querySelectorAll('[data-stale=\"true\"]').length === 0 && "
        "document.querySelectorAll('input[aria-label=\"units *\"]').length === 1", timeout=30_000)
    page.wait_for_timeout(200)


def _figure(name: str, ours_ms: float, ref_ms: float, target_ms: float | None) -> dict:
    """An absolute target (ms), with the ratio to the raw Keras reference for scale."""
    return {
        "name": name, "ours_ms": round(ours_ms, 1), "ref_ms": round(ref_ms, 1), "ratio": round(ours_ms / ref_ms, 3),
        "target": f"<= {target_ms} ms" if target_ms else "report", "passed": target_ms is None or ours_ms <= target_ms,
    }


def chromium_missing() -> bool:
    """True (and says so) when Debian's Chromium is not installed: the browser benchmarks are then skipped."""
    if os.path.exists(CHROMIUM):
        return False
    print(f"skipped: {CHROMIUM} is missing (scripts/setup.sh dev installs it)")
    return True


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description="Browser benchmarks: cold start, edit and drop latency.")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold starts (edits and drops only)")
    args = parser.parse_args(argv)
    if chromium_missing():
        return []
    from playwright.sync_api import sync_playwright

    print(machine())
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            results = [] if args.no_cold else cold_start(browser, os.path.join(tmp, "cold.db"))
            floor = Floor(browser, os.path.join(tmp, "floor.db"))
            try:
                measured = []
                for n in EDIT_TARGETS:
                    measured += edit_latency(browser, os.path.join(tmp, f"edit{n}.db"), args.reps, n, floor)
                measured += drop_latency(browser, os.path.join(tmp, "drop.db"), args.reps, floor)
            finally:
                floor.close()
            results += [floor.figure(), *measured]
        finally:
            browser.close()
    return emit(results, args.json)


if __name__ == "__main__":
    main()
