"""AppTest: the "Compare architectures" panel (components.compare_panel.render_compare) on two runs."""

import re

from streamlit.testing.v1 import AppTest


def _app(case: str) -> None:
    """The panel on two runs of iris_mlp; run B widens dense_1 to 12 units and adds a Dropout before it.

    `case`: "edited" (as above), "same" (B is A), "unreadable" (B's graph is None) or "hostile" (user text
    that is Markdown: names must show as text).
    """
    import streamlit as st

    from builder.model.templates import template
    from components.compare_panel import render_compare

    a = template("iris_mlp")
    b, _ = a.set_param("dense_1", "units", 12).insert_between("dense", "dense_1", "Dropout", {"rate": 0.25}, "drop")
    settings_a = {"compile": {"optimizer": "adam", "learning_rate": 0.001}, "epochs": 10, "batch_size": 32}
    settings_b = {"compile": {"optimizer": "adam", "learning_rate": 0.01}, "epochs": 10, "batch_size": 64}
    run_a = {"id": "aaaaaa11", "name": "iris_mlp", "graph": a, "final_metrics": {"loss": 0.5, "accuracy": 0.8},
             "settings": settings_a}
    run_b = {"id": "bbbbbb22", "name": "iris_mlp", "graph": b, "final_metrics": {"loss": 0.25, "accuracy": 0.9},
             "settings": settings_b, "param_counts": {"dense_1": 204}}
    if case == "same":
        run_b = {**run_a, "id": "cccccc33"}
    elif case == "unreadable":
        run_b = {**run_b, "graph": None, "final_metrics": None}
    elif case == "hostile":
        run_b = {**run_b, "name": "**bold** <b>x</b> :red[y]"}
    render_compare(run_a, run_b)
    st.write("end of page")


def run(case: str) -> AppTest:
    at = AppTest.from_function(_app, args=(case,), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def test_the_panel_shows_the_changed_and_the_added_layer():
    at = run("edited")
    assert "**1 layer changed, 1 added, 0 removed**" in markdown(at)
    layers = at.dataframe[0].value
    assert list(layers.columns) == ["layer", "status", "run A", "run B", "what changed"]
    assert list(layers["layer"]) == ["input", "dense", "drop", "dense_1", "output"]
    changed = layers[layers["layer"] == "dense_1"].iloc[0]
    assert changed["status"] == "changed"
    assert changed["run A"] == "Dense · units 8 · relu"
    assert changed["run B"] == "Dense · units 12 · relu · 204 params"
    assert changed["what changed"] == "units 8 → 12; inputs dense → drop"
    added = layers[layers["layer"] == "drop"].iloc[0]
    assert added["status"] == "added" and added["run A"] == "—" and added["run B"] == "Dropout · rate 0.25"
    assert layers[layers["layer"] == "dense"].iloc[0]["status"] == ""
    assert any("2 connections added, 1 removed" in c.value for c in at.caption)


def test_rows_are_coloured_by_status():
    at = run("edited")
    styles = at.dataframe[0].proto.arrow_data.styler.styles
    coloured = {}
    for selectors, colour in re.findall(r"([^{}]+)\{\s*background-color:\s*([^;}]+?)\s*\}", styles):
        for row in re.findall(r"_row(\d+)_col\d+", selectors):
            coloured.setdefault(int(row), set()).add(colour)
    assert coloured == {2: {"rgba(33, 195, 84, 0.16)"}, 3: {"rgba(255, 164, 33, 0.18)"}}  # drop added, dense_1 changed


def test_the_panel_shows_the_settings_that_differ_and_the_metrics():
    at = run("edited")
    settings = at.dataframe[1].value
    assert settings.to_dict("list") == {"setting": ["learning rate", "batch size"], "run A": ["0.001", "32"],
                                        "run B": ["0.01", "64"]}
    metrics = at.dataframe[2].value
    assert list(metrics["metric"]) == ["loss", "accuracy"]
    assert list(metrics["run A"]) == [0.5, 0.8] and list(metrics["run B"]) == [0.25, 0.9]
    assert metrics["B − A"].round(6).tolist() == [-0.25, 0.1]


def test_only_the_differences_hides_the_same_layers():
    at = run("edited")
    at.toggle[0].set_value(True).run()
    assert list(at.dataframe[0].value["layer"]) == ["drop", "dense_1"]


def test_two_runs_of_one_graph():
    at = run("same")
    assert "**Same layers: none changed, added or removed**" in markdown(at)
    assert set(at.dataframe[0].value["status"]) == {""}
    assert any(c.value == "The same training settings." for c in at.caption)
    assert not at.toggle  # nothing to filter


def test_an_unreadable_graph_says_so_and_stops():
    at = run("unreadable")
    assert [w.value for w in at.warning] == ["This run's graph cannot be read: iris\\_mlp (bbbbbb)."]
    assert not at.dataframe and not any("changed" in m for m in markdown(at))
    assert "end of page" in markdown(at)  # the panel returns; the page goes on


def test_run_names_are_shown_as_text():
    at = run("hostile")
    caption = at.caption[0].value
    assert "\\*\\*bold\\*\\*" in caption and "&lt;b&gt;" in caption and "<b>" not in caption
    assert ":red[" not in caption
