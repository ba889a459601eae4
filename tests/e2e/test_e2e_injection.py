"""Injection (issue 8) in a real browser: hostile names, layer types, param names and values, an upload's file
name and CSV column and class names are shown as text everywhere, and nothing in them runs.

test_e2e_build.py's test_markup_in_a_graph_file_is_shown_as_text checks the canvas alone; this one goes on
through the sidebar, the inspector, the issues and their fix buttons, the Train page's network view (agraph)
and the Data page, and checks every frame of the page: no element made from the text, no script run (window
.__pwned stays unset, no dialog opens), the text shown literally.
"""

from __future__ import annotations

import json

from playwright.sync_api import expect

from tests.e2e.helpers import ARTIFACTS, canvas_node, go_to, metric_value, open_uploader, settle, stable_box

AGRAPH = "iframe[title='streamlit_agraph.agraph']"
IMG = "<img src=x onerror=window.__pwned=1>"
HOSTILE_TYPE = IMG + "<b>b</b> **md** [a](javascript:1) ${x}"  # 74 characters: not clipped (80)
HOSTILE_PARAM = "**p** <b>q</b>"
HOSTILE_ACTIVATION = "</script><script>window.__pwned=3</script>"
MODEL_NAME = "<b>bold<b> **name** " + IMG + " {{y}} 'q\" \\ e\u0301 \u202eevil"
FILE_NAME = IMG + " **f** :material/delete: :smile: :red[x] [l](javascript:window.__pwned=4).json"

# Run by every frame before its own scripts: any write to window.__pwned, in any frame (even one replaced
# since), is logged in the top window; and the args each Streamlit component was given to render are kept.
CAPTURE = """
try {
  Object.defineProperty(window, '__pwned', {
    configurable: true,
    get() { return this.__pwnedValue; },
    set(v) {
      this.__pwnedValue = v;
      try { window.top.__pwnedLog = (window.top.__pwnedLog || []).concat([String(v) + ' in ' + location.href]); }
      catch (err) {}
    },
  });
} catch (err) {}
window.__renders = [];
window.addEventListener('message', (e) => {
  if (e.data && e.data.type === 'streamlit:render') {
    try { window.__renders.push(JSON.stringify(e.data.args)); } catch (err) {}
  }
});
"""


def hostile_graph() -> dict:
    return {
        "format": "layercanvas-graph", "version": 1, "name": MODEL_NAME,
        "nodes": [
            {"id": "input", "type": "Input", "params": {"shape": [4]}},
            {"id": "dense", "type": "Dense", "params": {"units": 8, "activation": "relu", HOSTILE_PARAM: 1}},
            {"id": "head", "type": "Dense", "params": {"units": 3, "activation": HOSTILE_ACTIVATION}},
            {"id": "evil", "type": HOSTILE_TYPE, "params": {}},
        ],
        "edges": [{"source": "input", "target": "dense"}, {"source": "dense", "target": "head"},
                  {"source": "input", "target": "evil"}],
    }


def watch(page) -> list[str]:
    """Records dialogs (an injected alert() would open one) and captures component render args."""
    dialogs: list[str] = []

    def on_dialog(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.context.add_init_script(CAPTURE)
    return dialogs


def assert_nothing_ran(page, dialogs: list[str], frames: int = 1) -> None:
    """In every frame (the page and its `frames - 1` component iframes at least): no element made from user
    markup, no injected script run."""
    assert dialogs == []
    assert page.evaluate("window.__pwnedLog") is None
    assert len(page.frames) >= frames
    for frame in page.frames:
        assert frame.evaluate("window.__pwned") is None, frame.url
        assert frame.locator("img[src='x']").count() == 0, frame.url
        assert frame.locator("script", has_text="__pwned").count() == 0, frame.url
        assert frame.locator("a[href^='javascript']").count() == 0, frame.url
        assert frame.locator("b", has_text="bold").count() == 0, frame.url
        assert frame.locator("b", has_text="q").count() == 0, frame.url
        assert frame.locator("strong", has_text="md").filter(has_not_text="*").count() == 0, frame.url


def upload_hostile_graph(page) -> None:
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(
        files=[{"name": FILE_NAME, "mimeType": "application/json", "buffer": json.dumps(hostile_graph()).encode()}])


def test_hostile_graph_on_the_canvas_inspector_issues_sidebar_and_network_view(page, server):
    dialogs = watch(page)
    page.goto(server)
    expect(metric_value(page, "Total params")).to_have_text("243", timeout=90_000)
    settle(page)
    upload_hostile_graph(page)

    # The flash message quotes the upload's name as text (no icon, emoji or colour from Streamlit's shortcodes).
    flash = page.get_by_text(f"Opened {FILE_NAME} as a new project.")
    expect(flash).to_be_visible(timeout=30_000)
    assert flash.locator("span[role=img], span.stMarkdownColoredText").count() == 0
    # Canvas: the type and the activation as text.
    expect(canvas_node(page, "evil")).to_contain_text(HOSTILE_TYPE, timeout=30_000)
    expect(canvas_node(page, "head")).to_contain_text(HOSTILE_ACTIVATION)
    for tag in ("img", "script", "a", "b", "h1"):
        assert page.locator(f".react-flow__node {tag}").count() == 0, tag
    # Sidebar: the project name is the model name, exactly.
    assert page.get_by_role("textbox", name="Project name").input_value() == MODEL_NAME
    # Issues: the unknown param's message and its one-click fix name it as it is.
    fix = page.get_by_role("button", name=f"Remove '{HOSTILE_PARAM}' from dense")
    expect(fix).to_be_visible(timeout=30_000)
    issue = page.locator('[data-testid="stAlert"]').filter(has_text="is not a layer LayerCanvas knows: pick")
    expect(issue).to_contain_text(HOSTILE_TYPE[:50], timeout=30_000)  # the message quotes a prefix
    # Inspector of the hostile node: its heading and its message show the type as text.
    settle(page)
    canvas_node(page, "evil").click()
    expect(page.locator("h4").filter(has_text=HOSTILE_TYPE)).to_be_visible(timeout=30_000)
    expect(page.get_by_text(f"'{HOSTILE_TYPE}' is not a layer LayerCanvas knows. Delete this node.")).to_be_visible()
    assert_nothing_ran(page, dialogs)
    settle(page)
    page.locator(".lc-canvas").screenshot(path=str(ARTIFACTS / "injection-canvas.png"))
    page.screenshot(path=str(ARTIFACTS / "injection-build-page.png"), full_page=True)

    # A layer typed into the canvas's quick-add box: refused, and quoted as text.
    box = page.locator(".react-flow__pane").bounding_box()
    page.mouse.dblclick(box["x"] + 40, box["y"] + 300)
    page.get_by_label("Layer type").fill(IMG.replace("1>", "5>"))
    page.get_by_label("Layer type").press("Enter")
    expect(page.locator(".lc-toast")).to_contain_text(f"“{IMG.replace('1>', '5>')[:40]}”", timeout=30_000)
    assert page.locator(".lc-toast img").count() == 0
    settle(page)

    # A typed project name with markup and '/': refused, and the message quotes it as text.
    typed = "**a**/" + IMG
    box = page.get_by_role("textbox", name="Project name")
    box.fill(typed)
    box.press("Enter")
    expect(page.get_by_text(f"the model name cannot contain '/', got {typed[:40]!r}")).to_be_visible(timeout=30_000)

    # Train page, "Freeze layers": the network view gets the type as plain text, titles escaped.
    expander = page.get_by_text("Freeze layers (transfer learning)")
    go_to(page, "Train", expander)
    expander.click()
    # The view's iframe is drawn while its expander is still closed, and measures itself 0 px tall then (it
    # never measures again while its data stays the same): the checks read its document, which is complete.
    page.frame_locator(AGRAPH).locator("canvas").wait_for(state="attached", timeout=30_000)
    settle(page)
    agraph = next(f for f in page.frames if "streamlit_agraph" in f.url)
    renders = agraph.evaluate("window.__renders")
    assert renders, "the network view was never rendered"
    data = json.loads(json.loads(renders[-1])["data"])
    labels = {n["id"]: n["label"] for n in data["nodes"]}
    assert labels["evil"].split("\n")[1] == HOSTILE_TYPE  # literally: vis-network draws labels as text
    assert all("<" not in n["title"] for n in data["nodes"])  # agraph puts titles into innerHTML
    assert all(n["font"].get("multi") is False for n in data["nodes"])
    assert agraph.locator("div.vis-tooltip img, div img").count() == 0
    # To look at it, the iframe is given the height the view has inside (420 px).
    page.locator(AGRAPH).evaluate("el => { el.style.height = '430px'; }")
    page.locator(AGRAPH).scroll_into_view_if_needed()
    stable_box(page, page.locator(AGRAPH))
    page.locator('[data-testid="stExpander"]').filter(has_text="Freeze layers").screenshot(
        path=str(ARTIFACTS / "injection-agraph.png"))
    assert_nothing_ran(page, dialogs, frames=2)  # and the network view


def test_hostile_csv_names_on_the_data_page(page, server, tmp_path):
    """Column names, class names and the file name of a CSV upload, shown as text."""
    dialogs = watch(page)
    columns = ["<b>bold</b>", "**md** [l](javascript:window.__pwned=5)", IMG.replace("1>", "6>"), "a_b"]
    classes = ["<b>cat</b>", "**dog**", "<img src=x onerror=window.__pwned=7>"]
    header = ",".join(f'"{c}"' for c in columns) + ',"<i>label</i>"'
    rows = [",".join(str((i * (j + 3)) % 7) for j in range(len(columns))) + f',"{classes[i % 3]}"' for i in range(60)]
    name = "<b>up</b> **load** " + IMG.replace("1>", "8>") + ".csv"
    uploader = open_uploader(page, server)
    uploader.set_input_files([{"name": name, "mimeType": "text/csv", "buffer": ("\n".join([header, *rows]) + "\n").encode()}])
    expect(metric_value(page, "Train / test samples")).to_have_text("48 / 12", timeout=60_000)
    settle(page)
    expect(page.get_by_text(f"Using: upload: {name}")).to_be_visible()
    # The label-column select shows the column names as they are (it showed md_escape's backslashes).
    select = page.locator('[data-testid="stSelectbox"]').filter(has_text="Label column")
    expect(select.get_by_role("combobox")).to_have_value("<i>label</i>")
    select.get_by_role("combobox").click()
    for c in columns:
        expect(page.get_by_role("option", name=c, exact=True)).to_be_visible()
    page.keyboard.press("Escape")
    settle(page)
    # The class balance chart: no element from the class names (plotly reads <b> and <a> in text).
    chart = page.locator(".js-plotly-plot").first
    expect(chart).to_be_visible()
    assert chart.locator("b, a, img").count() == 0
    ticks = [t.text_content() for t in chart.locator(".xtick text").all()]
    assert sorted(ticks) == sorted(classes)  # as typed (plotly gets them HTML-escaped)
    page.screenshot(path=str(ARTIFACTS / "injection-data.png"), full_page=True)
    assert_nothing_ran(page, dialogs)
