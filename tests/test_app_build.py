"""AppTest: every page starts; the Build page shows the summary, follows edits, undo, fixes and files."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from builder.model.graph import Graph
from builder.model.share import encode
from builder.model.templates import template
from components import owner, state

PAGES = ["pages/build.py", "pages/data.py", "pages/train.py", "pages/inspect.py", "pages/export.py", "pages/runs.py",
         "pages/projects.py", "pages/classes.py"]


def run_app(query: dict | None = None, browser: str | None = None) -> AppTest:
    """The app as a new session; `browser`: the private key of the browser it comes from (a new one if None)."""
    at = AppTest.from_file("../app.py", default_timeout=120)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    if browser is not None:
        at.session_state[owner.KEY] = browser
        at.session_state[owner.FROM_BROWSER] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def plain(text: str) -> str:
    """A message as the user reads it (the page escapes Markdown)."""
    return text.replace("\\", "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def messages(elements) -> list[str]:
    return [plain(e.value) for e in elements]


def canvas_payload(at: AppTest) -> dict:
    """What the page sent the canvas in its last run (the component's data)."""
    return json.loads(at.get("bidi_component")[0].proto.bytes)


def metric(at: AppTest, label: str) -> str:
    """A total the canvas shows above the graph (Total params, Trainable, ..., Warnings)."""
    return next(m["value"] for m in canvas_payload(at)["head"]["totals"] if m["label"] == label)


def press(at: AppTest, command: str) -> None:
    """The canvas's Undo, Redo or Present button (each sends its command as an event)."""
    canvas_event(at, kind=command)


def set_graph(at: AppTest, graph: Graph) -> None:
    at.session_state[state.GRAPH] = graph
    at.run()
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs(page):
    at = run_app()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not any("not built yet" in m for m in messages(at.info))


def test_the_keras_summary_view_follows_edits():
    at = run_app()
    at.segmented_control(key="bottom_view").set_value("model.summary()").run()
    text = next(c.value for c in at.code if c.value.startswith("Model:"))
    assert "Total params: 243" in text and "output (Dense)" in text
    set_graph(at, template("iris_mlp").set_param("output", "units", 4))
    assert any("Total params: 252" in c.value for c in at.code)  # 243 - (8 * 3 + 3) + (8 * 4 + 4)


def test_build_page_shows_summary_of_the_default_template():
    at = run_app()
    assert metric(at, "Total params") == "243"
    assert not at.dataframe  # below the canvas: nothing until chosen (edits are quicker)
    at.segmented_control(key="bottom_view").set_value("Summary").run()
    assert list(at.dataframe[0].value["name"]) == ["input", "dense", "dense_1", "output"]
    set_graph(at, template("iris_mlp").set_param("output", "units", 4))
    assert list(at.dataframe[0].value["params"])[-1] == 8 * 4 + 4  # shown up to date
    assert at.query_params["project"]  # autosaved under an id in the URL


def test_an_edit_changes_the_totals_and_undo_restores_them():
    at = run_app()
    set_graph(at, template("cifar_cnn"))
    assert metric(at, "Total params") == "122,570"
    at.session_state[state.GRAPH] = template("cifar_cnn")
    state_graph = at.session_state[state.GRAPH]
    at.session_state[state.UNDO] = [state_graph]
    set_graph(at, state_graph.set_param("dense", "units", 32))
    assert metric(at, "Total params") == f"{122570 - 65600 - 650 + 1024 * 32 + 32 + 32 * 10 + 10:,}"
    press(at, "undo")
    assert metric(at, "Total params") == "122,570"
    press(at, "redo")
    assert metric(at, "Total params") != "122,570"


SEQ = iter(range(1, 10**6))


def canvas_event(at: AppTest, **event) -> None:
    """What the canvas component sends (its state value), as the page reads it before drawing."""
    from components.canvas import KEY

    v = at.session_state[META_KEY].version if META_KEY in at.session_state else 0
    at.session_state[KEY] = {"events": [{**event, "seq": next(SEQ), "v": v}]}
    at.run()
    assert not at.exception, [e.value for e in at.exception]


META_KEY = "lc_canvas_meta"


def test_a_palette_click_adds_after_the_selection_and_inspector_edits():
    at = run_app()
    canvas_event(at, kind="select", ids=["dense"])
    assert at.session_state[state.SELECTED] == "dense"
    canvas_event(at, kind="add", type="Dropout", after="dense")
    g = at.session_state[state.GRAPH]
    assert g.inputs_of("dropout") == ["dense"] and g.inputs_of("dense_1") == ["dropout"]
    assert at.session_state[state.SELECTED] == "dropout"
    assert metric(at, "Layers") == "5"
    at.session_state[state.SELECTED] = "dense"
    at.run()
    units = next(n for n in at.number_input if n.label == "units *")
    units.set_value(32).run()
    assert metric(at, "Total params") == f"{4 * 32 + 32 + 32 * 8 + 8 + 27:,}"
    at.session_state[state.SELECTED] = "dropout"
    at.run()
    rate = next(n for n in at.number_input if n.label == "rate *")
    rate.set_value(1.0).run()  # refused: the message, and the graph stays as it was
    assert any("Dropout 'dropout': rate" in m and "got 1.0" in m for m in messages(at.error))
    assert at.session_state[state.GRAPH].node("dropout").params["rate"] == 0.5


def test_an_inspector_edit_keeps_its_widget_and_undo_redo_show_the_right_value():
    at = run_app()
    at.session_state[state.SELECTED] = "dense"
    at.run()

    def units():
        return next(n for n in at.number_input if n.label == "units *")

    key = units().key
    units().set_value(32).run()
    assert units().key == key and units().value == 32  # the same widget: the browser does not draw it anew
    assert metric(at, "Total params") == f"{4 * 32 + 32 + 32 * 8 + 8 + 27:,}"
    press(at, "undo")
    assert units().value == 16 and units().key != key  # the old value, in a widget never used before
    press(at, "redo")
    assert units().value == 32
    units().set_value(16).run()
    assert at.session_state[state.GRAPH].node("dense").params["units"] == 16 and units().value == 16
    press(at, "undo")
    assert units().value == 32 and metric(at, "Total params") == f"{4 * 32 + 32 + 32 * 8 + 8 + 27:,}"


def test_presenter_mode_from_the_url_and_the_button_hides_the_sidebar_and_writes_nothing():
    from components import presenter

    at = run_app({"present": "1"})
    saved = at.session_state[state.GRAPH]
    assert at.session_state[presenter.PRESENT] is True
    assert any("stSidebar" in h.proto.body and "display:none" in h.proto.body for h in at.get("html"))
    assert not at.sidebar.selectbox  # the sidebar's widgets are not made
    assert canvas_payload(at)["present"] is True  # the canvas's button then reads "Stop presenting"
    press(at, "present")
    assert at.session_state[presenter.PRESENT] is False and "present" not in at.query_params
    assert not any("display:none" in h.proto.body for h in at.get("html"))
    assert at.sidebar.selectbox and canvas_payload(at)["present"] is False
    press(at, "present")
    assert at.query_params["present"] == ["1"] or at.query_params["present"] == "1"
    assert at.session_state[state.GRAPH] is saved  # looking writes nothing


def test_more_settings_are_made_only_while_open_and_edit_the_layer():
    at = run_app()
    at.session_state[state.SELECTED] = "dense"
    at.run()
    assert "More settings" in [e.label for e in at.expander]
    assert not [s for s in at.selectbox if s.label == "kernel_initializer"]  # closed: not made
    at.session_state["more:Dense:"] = True  # what opening it sends (its key is shared by every Dense)
    at.run()
    init = next(s for s in at.selectbox if s.label == "kernel_initializer")
    init.set_value("he_normal").run()
    assert at.session_state[state.GRAPH].node("dense").params["kernel_initializer"] == "he_normal"
    assert metric(at, "Total params") == "243"


def test_selecting_another_layer_of_the_type_shows_its_own_values():
    """The inspector's widgets share their keys across layers of a type (selecting another redraws only what
    differs); a value one layer's widget holds is never shown for another."""
    at = run_app()
    g = at.session_state[state.GRAPH]
    assert g.node("dense").params["units"] != g.node("dense_1").params["units"]
    at.session_state[state.SELECTED] = "dense"
    at.run()
    units = next(n for n in at.number_input if n.label == "units *")
    units.set_value(16).run()  # the value it shows: nothing changes
    next(t for t in at.toggle if t.label == "Trainable").set_value(False).run()
    assert not at.session_state[state.GRAPH].node("dense").trainable
    for nid in ("dense_1", "output", "dense"):
        at.session_state[state.SELECTED] = nid
        at.run()
        node = at.session_state[state.GRAPH].node(nid)
        assert next(n for n in at.number_input if n.label == "units *").value == node.params["units"], nid
        assert next(t for t in at.toggle if t.label == "Trainable").value is node.trainable, nid
    # Dense layers with the same units share that widget: edited on one, the other keeps its value.
    g = at.session_state[state.GRAPH].set_param("dense_1", "units", 16)
    set_graph(at, g)
    at.session_state[state.SELECTED] = "dense_1"
    at.run()
    next(n for n in at.number_input if n.label == "units *").set_value(24).run()
    assert at.session_state[state.GRAPH].node("dense_1").params["units"] == 24
    at.session_state[state.SELECTED] = "dense"
    at.run()
    assert next(n for n in at.number_input if n.label == "units *").value == 16
    assert at.session_state[state.GRAPH].node("dense").params["units"] == 16
    # A setting made of two boxes (a regularizer's l1 and l2) too: set on one Dense, the next shows its own (none).
    at.session_state["more:Dense:"] = True
    at.run()
    next(n for n in at.number_input if n.label == "kernel_regularizer l1").set_value(0.01).run()
    assert at.session_state[state.GRAPH].node("dense").params["kernel_regularizer"] == {"l1": 0.01}
    at.session_state[state.SELECTED] = "dense_1"
    at.run()
    assert next(n for n in at.number_input if n.label == "kernel_regularizer l1").value == 0.0
    next(n for n in at.number_input if n.label == "kernel_regularizer l2").set_value(0.02).run()
    assert at.session_state[state.GRAPH].node("dense_1").params["kernel_regularizer"] == {"l2": 0.02}
    at.session_state[state.SELECTED] = "dense"
    at.run()
    assert next(n for n in at.number_input if n.label == "kernel_regularizer l1").value == 0.01
    assert next(n for n in at.number_input if n.label == "kernel_regularizer l2").value == 0.0


def test_canvas_edits_are_one_undo_step_each_and_stale_ones_are_ignored():
    at = run_app()
    canvas_event(at, kind="delete", nodes=["dense_1"], edges=[])
    assert at.session_state[state.GRAPH].inputs_of("output") == ["dense"]
    assert metric(at, "Total params") == f"{4 * 16 + 16 + 16 * 3 + 3:,}"
    press(at, "undo")
    assert at.session_state[state.GRAPH].has("dense_1") and metric(at, "Total params") == "243"
    # An event made on the graph as it was before the undo: ignored, with a message in the canvas.
    from components.canvas import KEY

    at.session_state[KEY] = {"events": [{"kind": "delete", "nodes": ["dense"], "edges": [], "seq": next(SEQ), "v": 0}]}
    at.run()
    assert at.session_state[state.GRAPH].has("dense")
    assert "ignored" in at.session_state[META_KEY].toast["text"]
    # A refused edit says why, in the canvas, and changes nothing.
    canvas_event(at, kind="connect", source="output", target="dense", port=None)
    assert "cycle" in at.session_state[META_KEY].toast["text"]
    assert at.session_state[state.GRAPH].inputs_of("dense") == ["input"]


def test_errors_are_pinned_and_fixes_apply_in_one_click():
    at = run_app()
    g = Graph.from_dict({
        "format": "layercanvas-graph", "version": 1, "name": "fixme",
        "nodes": [{"id": "x", "type": "Input", "params": {"shape": [784]}},
                  {"id": "conv1", "type": "Conv2D", "params": {"filters": 4, "kernel_size": 3}},
                  {"id": "flat", "type": "Flatten"}, {"id": "head", "type": "Dense", "params": {"units": 2}}],
        "edges": [{"source": "x", "target": "conv1"}, {"source": "conv1", "target": "flat"}, {"source": "flat", "target": "head"}],
    })
    set_graph(at, g)
    assert any("Conv2D 'conv1' got (None, 784)" in m for m in messages(at.error))
    fix = next(b for b in at.button if b.label.startswith("Insert Reshape"))
    fix.click().run()
    assert not at.error
    assert metric(at, "Total params") != "0"
    assert any(n.type == "Reshape" for n in at.session_state[state.GRAPH].nodes)


def test_share_link_opens_the_graph_and_a_broken_one_says_so():
    at = run_app({"g": encode(template("lenet5"))})
    assert at.session_state[state.GRAPH].name == "lenet5"
    assert metric(at, "Total params") == "61,706"  # 156 + 2,416 + 48,120 + 10,164 + 850
    bad = run_app({"g": "1AAAA-not-a-graph"})
    assert any("share link cannot be opened" in m for m in messages(bad.toast))
    assert bad.session_state[state.GRAPH].name == "iris_mlp"


def widget(elements, prefix: str):
    """The one widget whose key is `prefix` or starts with `prefix:` (the Data page's keys carry the project and
    its data choice)."""
    (found,) = [e for e in elements if e.key == prefix or (e.key or "").startswith(prefix + ":")]
    return found


def use_data(at: AppTest, name: str | None = None, csv: bytes | None = None, file_name: str = "data.csv",
             **options) -> None:
    """Makes a built-in dataset, or a CSV upload, the open project's data, as the Data page records a choice
    (the store; an upload kept beside the database as this session's owner's), then reruns the page."""
    from builder.data import datachoice
    from builder.store import Store, default_path
    from components.data_panel import uploads_dir
    from components.owner import owner_of

    if csv is not None:
        choice = datachoice.with_options(datachoice.upload(csv, file_name), **options) if options else \
            datachoice.upload(csv, file_name)
        datachoice.keep_upload(uploads_dir(), choice, csv)
    else:
        choice = datachoice.named(name)
    pid = at.session_state[state.PROJECT]
    me = owner_of(None, at.session_state[owner.KEY])
    with Store(default_path()) as db:
        if csv is not None:
            db.add_upload(choice.id, me, choice.name, choice.format, len(csv))
        assert db.set_project_data(pid, choice.to_dict(), owner=me)
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def loaded(at: AppTest):
    """The Dataset the session has loaded for its project (None before any page needed it)."""
    from components.data_panel import DATASET

    cached = at.session_state[DATASET] if DATASET in at.session_state else None
    return cached[1] if cached else None


def fresh_browser() -> str:
    """A new browser's private key: no projects yet (the store is shared by the tests of a session)."""
    import secrets

    return secrets.token_urlsafe(16)


def test_reload_with_the_project_id_restores_the_work():
    BROWSER = fresh_browser()
    at = run_app(browser=BROWSER)
    canvas_event(at, kind="add", type="Flatten", x=600.0, y=0.0)  # an edit through the page: saved at once
    pid = at.query_params["project"]
    again = run_app({"project": pid}, browser=BROWSER)
    assert again.session_state[state.GRAPH].ids() == ["input", "dense", "dense_1", "output", "flatten"]
    assert not again.session_state[state.READ_ONLY]
    latest = run_app(browser=BROWSER)  # no project in the URL: this browser's latest
    assert latest.session_state[state.PROJECT] == pid
    lost = run_app({"project": "no-such-project-id"}, browser=BROWSER)
    assert any("no project no-such-project-id here" in m for m in messages(lost.warning))
    assert lost.session_state[state.PROJECT] is None  # nothing was made up
    assert any(b.label == "Open" for b in lost.button)  # the projects list, with this browser's project


@pytest.mark.parametrize("typed", ["16", "16,", "[16]", " 16 , "])
def test_a_shape_takes_one_size_typed_any_of_the_usual_ways(typed):
    at = run_app()
    at.session_state[state.SELECTED] = "input"
    at.run()
    shape = next(t for t in at.text_input if t.label == "shape *")
    assert shape.value == "4"  # one form: no brackets, as "3, 3" is shown
    shape.set_value(typed).run()
    assert not at.error, messages(at.error)
    assert at.session_state[state.GRAPH].node("input").params["shape"] == [16]
    assert metric(at, "Total params") == f"{16 * 16 + 16 + 16 * 8 + 8 + 27:,}"


def test_lists_show_one_way_and_trainable_only_where_there_are_weights():
    at = run_app()
    graph = template("digits_cnn")
    conv = next(n.id for n in graph.nodes if n.type == "Conv2D")
    set_graph(at, graph.set_param(conv, "kernel_size", [3, 3]))
    pool = next(n.id for n in graph.nodes if n.type in ("MaxPooling2D", "Flatten", "Dropout"))
    at.session_state[state.SELECTED] = conv
    at.run()
    assert any(t.label == "Trainable" for t in at.toggle)
    shown = {t.label: t.value for t in at.text_input}
    # A list the user set and a default (a tuple in the catalog) look the same.
    assert shown["kernel_size *"] == "3, 3" and shown["strides"] == "1, 1", shown
    at.session_state[state.SELECTED] = pool
    at.run()
    assert not any(t.label == "Trainable" for t in at.toggle)  # nothing to train
    # A weightless layer frozen in a graph file is offered Trainable, to turn it back on.
    set_graph(at, graph.set_trainable(pool, False))
    at.run()
    toggle = next(t for t in at.toggle if t.label == "Trainable")
    assert toggle.value is False
    toggle.set_value(True).run()
    assert at.session_state[state.GRAPH].node(pool).trainable is True
    assert not any(t.label == "Trainable" for t in at.toggle)


def test_several_layers_selected_show_their_totals_and_group_delete_copy():
    at = run_app()
    canvas_event(at, kind="select", ids=["dense", "dense_1"])
    assert any("2 layers selected" in m.value for m in at.markdown)
    assert any(t.value == f"Params {4 * 16 + 16 + 16 * 8 + 8:,}" for t in at.text)
    assert any(t.value.startswith("Cost ") and "MACs" in t.value for t in at.text)
    at.button(key="many:copy").click().run()
    from components.canvas import META

    assert at.session_state[META].copy_ids == ["dense", "dense_1"] and at.session_state[META].copy_n == 1
    at.button(key="many:group").click().run()
    g = at.session_state[state.GRAPH]
    assert len(g.groups) == 1 and set(g.groups[0].nodes) == {"dense", "dense_1"}
    press(at, "undo")
    canvas_event(at, kind="select", ids=["dense", "dense_1"])
    at.button(key="many:delete").click().run()
    g = at.session_state[state.GRAPH]
    assert not g.has("dense") and not g.has("dense_1") and g.inputs_of("output") == ["input"]
    assert not any("layers selected" in m.value for m in at.markdown)
