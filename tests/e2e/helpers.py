"""What the browser tests (and bench/) share: a real Streamlit server, Debian's Chromium, and the waits and gestures
that drive the app. Screenshots of failed tests are kept in artifacts/ (tests/e2e/conftest.py)."""

from __future__ import annotations

import os
import pathlib
import re
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect

from builder.model.graph import Graph

ROOT = pathlib.Path(__file__).resolve().parents[2]


ARTIFACTS = ROOT / "artifacts"


CHROMIUM = "/usr/bin/chromium"


CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(*app_args: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """Starts `streamlit run app.py` on a free port; returns (process, base url)."""
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)  # a fresh checkout has none (bench/ starts servers outside the test session)
    log = open(ARTIFACTS / f"server-{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
         "--", *app_args],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.2)
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError(f"streamlit did not start; see {log.name}")


CANVAS = ".lc-canvas"  # the canvas component (in an open shadow root: Playwright's CSS locators pierce it)


def metric_value(page, label: str):
    return page.locator('[data-testid="stMetric"]').filter(has_text=label).locator('[data-testid="stMetricValue"]')


def canvas_node(page, node_id: str):
    return page.locator(f".react-flow__node[data-id='{node_id}']")


def canvas_ids(page) -> list[str]:
    return sorted(n.get_attribute("data-id") for n in page.locator(".react-flow__node-layer").all())


# Whether the app is busy: a script run under way or asked for, as Streamlit's own browser tests read it (the
# running-man status widget is not drawn with the toolbar in "minimal" mode), anything drawn stale, or the canvas's
# view moving (it fits itself after an edit, in an animation: a click then lands beside what was aimed at).
BUSY_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    const state = app ? app.getAttribute('data-test-script-state') : 'initial';
    // The canvas lives in a shadow root: find its host once (a full search of the page each poll costs the
    // browser time the app's own run needs), and again only when it was drawn anew.
    let host = window.__lcCanvasHost;
    if (!host || !host.isConnected) {
        host = [...document.querySelectorAll('*')].find((e) => e.shadowRoot?.querySelector('.react-flow__viewport'));
        window.__lcCanvasHost = host;
    }
    const view = host ? host.shadowRoot.querySelector('.react-flow__viewport') : null;
    const transform = view ? view.style.transform : '';
    const moved = transform !== window.__lcLastView;
    window.__lcLastView = transform;
    return state !== 'notRunning' || document.querySelector('[data-stale="true"]') !== null || moved;
}"""


def settle(page) -> None:
    """Waits until the app is idle: no script run under way or asked for, nothing drawn stale, the canvas's view
    still, for half a second (a run the canvas or a timer asks for follows the last one within that)."""
    quiet = 0
    for _ in range(300):
        page.wait_for_timeout(100)
        quiet = 0 if page.evaluate(BUSY_JS) else quiet + 1
        if quiet >= 5:
            return
    raise AssertionError("the app never became idle")


def project_graph(page) -> Graph:
    """The project's graph as saved (every edit is saved at once), read from the store the server uses."""
    from builder.store import Store

    pid = parse_qs(urlparse(page.url).query)["project"][0]
    with Store() as store:
        return store.load_project(pid)


def wait_graph(page, check, timeout: float = 30) -> Graph:
    """Polls the saved graph until `check(graph)` holds; returns it."""
    deadline = time.time() + timeout
    while True:
        g = project_graph(page)
        if g is not None and check(g):
            return g
        if time.time() > deadline:
            raise AssertionError(f"the graph never reached the expected state: {g.to_dict() if g else None}")
        page.wait_for_timeout(150)


def new_from_template(page, label: str) -> None:
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').click()
    page.get_by_role("option", name=re.compile(re.escape(label))).click()
    page.get_by_role("button", name="New from template").click()


def palette_item(page, type_: str):
    search = page.get_by_placeholder("Search layers")
    search.fill(type_)
    return page.locator(f".lc-item[data-type='{type_}']")


def add_from_palette(page, type_: str) -> None:
    """A click on a palette item: the layer goes after the selected one."""
    settle(page)
    palette_item(page, type_).click()


def center(box: dict) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag_to(page, source, x: float, y: float) -> None:
    """Drags `source` to (x, y) with the mouse: pointer events, as a finger on a touch screen gives."""
    sx, sy = center(source.bounding_box())
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.mouse.move(sx + 20, sy + 5, steps=4)
    page.mouse.move(x, y, steps=12)
    page.mouse.up()


def stable_box(page, locator) -> dict:
    """The element's box once it stops moving (the canvas fits its view after edits)."""
    box = None
    for _ in range(40):
        page.wait_for_timeout(150)
        new = locator.bounding_box()
        if new is not None and new == box:
            return new
        box = new
    raise AssertionError("the canvas kept moving")


def drag_connect(page, source: str, target: str, handle: str = ".react-flow__handle.target") -> None:
    settle(page)
    src = stable_box(page, canvas_node(page, source).locator(".react-flow__handle.source"))
    dst = stable_box(page, canvas_node(page, target).locator(handle).first)
    page.mouse.move(*center(src))
    page.mouse.down()
    page.mouse.move(*center(dst), steps=15)
    page.mouse.up()


def edge_point(page, edge_id: str) -> tuple[float, float]:
    """A point on the middle of an edge's line, on the screen (an L-shaped edge's box centre is off its line)."""
    settle(page)
    path = page.locator(f".react-flow__edge[data-id='{edge_id}'] path.react-flow__edge-interaction")
    pt = path.evaluate("""p => { const q = p.getPointAtLength(p.getTotalLength() / 2);
        const m = p.getScreenCTM(); return [q.x * m.a + m.e, q.y * m.d + m.f]; }""")
    return pt[0], pt[1]


POINTS = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .map(d => (d.data || []).map(t => (t.x || []).length).reduce((a, b) => a + b, 0))"""


def chart_points(page) -> int:
    counts = page.evaluate(POINTS)
    return max(counts) if counts else 0


def go_to(page, link: str, ready) -> None:
    """Follows a sidebar link (one click) and waits until `ready` shows and the page is idle."""
    settle(page)
    page.get_by_role("link", name=link, exact=True).click()
    ready.wait_for(timeout=30_000)
    settle(page)


def start_training(page, server, epochs: int) -> None:
    """A new project (the iris classifier) in a fresh session: Train page, set the epochs, Start."""
    page.goto(server)
    metric_value(page, "Total params").wait_for(timeout=120_000)
    start_run(page, epochs)


def start_run(page, epochs: int) -> None:
    """This session's Train page: set the epochs (opening the settings, which fold away after a run), Start."""
    start = page.get_by_role("button", name="Start training")
    go_to(page, "Train", start)
    box = page.get_by_label("Epochs")
    if not box.is_visible():
        page.locator('[data-testid="stExpander"] summary').filter(has_text="Settings").click()
    box.fill(str(epochs))
    box.press("Enter")
    settle(page)
    expect(start).to_be_enabled(timeout=60_000)
    start.click()


def open_uploader(page, server):
    """A new session's Data page with "Upload" chosen; returns the file input."""
    page.goto(server)
    metric_value(page, "Total params").wait_for(timeout=120_000)
    upload = page.locator('[data-testid="stMain"]').get_by_text("Upload", exact=True)
    go_to(page, "Data", upload)
    upload.click()
    settle(page)
    return page.locator('[data-testid="stMain"] input[type="file"]')


def download(page, fmt: str, path) -> str:
    """Prepares the format if it must be, then downloads it (buttons found by their keys)."""
    prepare = page.locator(f".st-key-prepare-{fmt} button")
    if prepare.count():
        prepare.click()
        settle(page)
    with page.expect_download(timeout=120_000) as info:
        page.locator(f".st-key-download-{fmt} button").click()
    info.value.save_as(path)
    return info.value.suggested_filename


def open_app(page, server, total: str = "243") -> None:
    page.goto(server)
    expect(metric_value(page, "Total params")).to_have_text(total, timeout=90_000)
    expect(canvas_node(page, "output")).to_be_visible(timeout=30_000)
    settle(page)
