"""AppTest: the Inspect page tries the model on a test sample, typed values, and says what is wrong with bad input."""

from builder.model.templates import template
from components import state
from tests.test_app_build import fresh_browser, loaded, messages, metric, plain, run_app, use_data


def inspect_page(graph, dataset: str):
    at = run_app(browser=fresh_browser())
    at.session_state[state.GRAPH] = graph
    use_data(at, dataset)
    at.switch_page("pages/inspect.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_test_sample_gets_a_prediction_with_every_class_probability():
    at = inspect_page(template("digits_cnn"), "digits")
    at.segmented_control(key="try_source").set_value("A test sample").run()
    at.number_input(key="try_index").set_value(3).run()
    from components.data_panel import label_name

    ds = loaded(at)
    said = [plain(m.value).replace("**", "") for m in at.markdown if "Prediction for" in m.value]
    assert said and said[0].startswith(f"Prediction for test sample 3 (true: {label_name(ds, ds.y_test[3])}): ")
    (chart,) = at.get("plotly_chart")
    bars = chart.proto.spec
    assert '"orientation":"h"' in bars.replace(" ", "") and all(f'"{n}"' in bars for n in ds.class_names)


def test_typed_values_for_a_table_model_and_a_wrong_count_says_so():
    at = inspect_page(template("iris_mlp"), "iris")
    assert at.segmented_control(key="try_source").value == "Type values"
    assert any("Prediction for the values typed" in plain(m.value) for m in at.markdown)
    at.text_area(key="try_text").input("1 2 3").run()
    assert any("takes 4 values" in m for m in messages(at.warning))
    assert any(m.startswith("The model takes 4 values") for m in messages(at.warning))  # a sentence
    at.text_area(key="try_text").input("1 two 3 4").run()
    assert any("not a number" in m for m in messages(at.warning))
    at.text_area(key="try_text").input("  ").run()  # nothing typed: what to do, not a complaint
    assert not at.warning and any("Type 4 values to see what the model makes of them" in m for m in messages(at.info))
    assert not at.exception


def test_the_build_page_shows_macs_total_per_layer_and_the_selected_layers_arithmetic():
    from builder.kerasenv import load_keras

    load_keras()
    at = run_app(browser=fresh_browser())
    at.session_state[state.GRAPH] = template("digits_cnn")
    at.run()
    at.run()  # after the first paint
    macs = metric(at, "MACs")
    assert macs == "116k"  # 9,216 + 73,728 + 32,768 + 640 (convs, dense, head)
    at.segmented_control(key="bottom_view").set_value("Summary").run()
    table = at.dataframe[0].value
    assert list(table["MACs"]) == [0, 9216, 0, 73728, 0, 32768, 640]
    assert [n for n, h in zip(table["name"], table["heaviest"], strict=False) if h] == ["conv2d", "conv2d_1", "dense"]
    at.session_state[state.SELECTED] = "conv2d_1"
    at.run()
    lines = [line for t in at.text for line in t.value.splitlines()]
    assert any(line.startswith("Cost 4×4 positions × 3×3×16 × 32 = 73,728 MACs") for line in lines), lines
    assert any(e.label == "What it does" for e in at.expander)


def test_the_selected_layers_output_on_a_test_sample_while_building():
    from builder.kerasenv import load_keras

    load_keras()
    at = run_app(browser=fresh_browser())
    at.session_state[state.GRAPH] = template("digits_cnn")
    use_data(at, "digits")
    at.session_state[state.SELECTED] = "conv2d_1"
    at.run()
    at.run()
    assert any(e.label == "Output on a sample" for e in at.expander)
    assert not any("conv2d_1 (Conv2D)" in plain(c.value) for c in at.caption)  # closed: nothing computed
    at.session_state["live_open"] = True
    at.run()
    at.segmented_control(key="live_source").set_value("A test sample").run()
    assert not at.exception, [e.value for e in at.exception]
    said = [plain(c.value) for c in at.caption if "conv2d_1 (Conv2D)" in plain(c.value)]
    assert said and said[0].startswith("conv2d_1 (Conv2D): 4 × 4 × 32, values "), said
    assert len(at.get("image")) >= 1  # the feature-map grid
    at.session_state[state.SELECTED] = "head"
    at.run()
    assert any("head (Dense): 10" in plain(c.value) for c in at.caption)


def test_after_training_every_inspect_view_draws():
    from components.training_panel import RUN
    from tests.test_app_train import wait_for_job

    at = inspect_page(template("digits_cnn"), "digits")
    at.switch_page("pages/train.py").run()
    at.number_input(key="train_epochs").set_value(2).run()
    at.button(key="train_start").click().run()
    job = wait_for_job(at)
    assert job.status == "finished" and job.snapshot()["inspect"]
    at.switch_page("pages/inspect.py").run()
    assert any("The model trained in run" in c.value for c in at.caption)
    # Layer by layer, untrained beside trained.
    at.segmented_control(key="inspect_view").set_value("Layer by layer").run()
    at.segmented_control(key="try_source").set_value("A test sample").run()
    assert not at.exception, [e.value for e in at.exception]
    heads = [m.value for m in at.markdown]
    assert "**At the start of this run (untrained)**" in heads and "**Trained**" in heads  # a run from scratch
    assert len(at.get("image")) >= 4  # feature maps of conv2d and pool, before and after
    # Grad-CAM.
    at.segmented_control(key="inspect_view").set_value("Explain (Grad-CAM)").run()
    assert not at.exception, [e.value for e in at.exception]
    captions = [i.proto.imgs[0].caption for i in at.get("image")]
    assert any(c.startswith("Grad-CAM (last convolution)") for c in captions), captions
    # Filters of the first convolution.
    at.segmented_control(key="inspect_view").set_value("Filters").run()
    assert any(c.value.startswith("16 filters of 3×3") for c in at.caption)
    # Weights and gradients, one row per trainable layer and epoch.
    at.segmented_control(key="inspect_view").set_value("Weights and gradients").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="wg_layer").options == ["conv2d", "conv2d_1", "dense", "head"]
    assert len(at.get("plotly_chart")) == 4  # two norm charts, two histograms
    assert at.session_state[RUN] == job.id
    # A past run on the Runs page: its weights and gradients, read back from the file saved beside its model.
    at.switch_page("pages/runs.py").run()
    at.toggle(key=f"wg_open:{job.id}").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key=f"wg_layer{job.id}").options == ["conv2d", "conv2d_1", "dense", "head"]


def test_output_on_a_sample_fits_the_model_and_says_which_data_would():
    at = run_app(browser=fresh_browser())
    at.session_state[state.GRAPH] = template("cifar_cnn")  # 32 x 32 x 3 images
    use_data(at, "iris")  # 4 values: it does not fit
    at.session_state[state.SELECTED] = next(n.id for n in template("cifar_cnn").nodes if n.type == "Conv2D")
    at.session_state["live_open"] = True
    at.run()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    sources = at.segmented_control(key="live_source").options
    assert "Draw" not in sources and "A test sample" not in sources and "Upload an image" in sources, sources
    said = " ".join(plain(c.value) for c in at.caption)
    assert "does not fit this model's input (32 × 32 × 3)" in said and "iris: 4" in said, said
    assert "Choose or upload data of that shape on the Data page" in said
    # A one-channel image model: drawing is offered, and the data that fits is named.
    at.session_state[state.GRAPH] = template("digits_cnn")
    at.session_state[state.SELECTED] = "conv2d_1"
    at.run()
    assert "Draw" in at.segmented_control(key="live_source").options
    said = " ".join(plain(c.value) for c in at.caption)
    assert "Data that fits: digits." in said, said
