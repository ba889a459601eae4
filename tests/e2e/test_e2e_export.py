"""Export in a real browser: train briefly, download the .h5, the SavedModel zip and the ONNX file, load them, same
predictions; compare the TFLite files and download the run's TensorBoard logs; import a model through the sidebar,
and a Lambda model is refused with a message."""

import zipfile

import numpy as np
from playwright.sync_api import expect

from tests.e2e.helpers import ARTIFACTS, download, go_to, metric_value, settle, start_training


def test_train_download_h5_savedmodel_and_onnx_then_compare(page, server, tmp_path):
    from builder.kerasenv import load_keras

    keras = load_keras()
    import tensorflow as tf

    start_training(page, server, epochs=5)
    expect(page.get_by_text("Confusion matrix (test data)")).to_be_visible(timeout=120_000)
    go_to(page, "Export", page.get_by_text("The model trained in run"))
    settle(page)
    h5_name = download(page, "h5", tmp_path / "model.h5")
    zip_name = download(page, "savedmodel", tmp_path / "model.zip")
    assert h5_name == "iris_mlp.h5" and zip_name == "iris_mlp.zip"
    expect(page.get_by_text("Serving signature:")).to_have_count(1)  # shown once the SavedModel is made
    h5 = keras.models.load_model(tmp_path / "model.h5")
    with zipfile.ZipFile(tmp_path / "model.zip") as zf:
        zf.extractall(tmp_path)
    served = tf.saved_model.load(str(tmp_path / "saved_model")).signatures["serving_default"]
    x = np.random.default_rng(0).normal(size=(10, 4)).astype("float32")
    a = h5.predict(x, verbose=0)
    b = list(served(tf.constant(x)).values())[0].numpy()
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert not np.allclose(a, a[0])  # a real model, not a constant

    # ONNX: prepared on request (checked against Keras on the server), then opened with ONNX Runtime here.
    import onnxruntime as ort

    assert download(page, "onnx", tmp_path / "model.onnx") == "iris_mlp.onnx"
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    np.testing.assert_allclose(session.run(None, {"input": x})[0], a, atol=1e-4)

    # The TFLite files compared on the test data; the table has the three variants beside Keras.
    page.locator(".st-key-compare_tflite button").click()
    table = page.locator('[data-testid="stDataFrame"]').filter(has_text="TFLite int8")
    expect(table).to_be_visible(timeout=120_000)
    expect(page.get_by_text("test samples of iris")).to_be_visible()
    settle(page)

    # The run's TensorBoard logs: a zip of its folder, with event files for training and validation.
    with page.expect_download(timeout=60_000) as info:
        page.locator(".st-key-logs-export").get_by_role("button", name="Download logs").click()
    info.value.save_as(tmp_path / "logs.zip")
    assert info.value.suggested_filename.endswith(".tb.zip")
    names = zipfile.ZipFile(tmp_path / "logs.zip").namelist()
    assert any("/train/events.out.tfevents." in n for n in names)
    assert any("/validation/events.out.tfevents." in n for n in names)
    expect(page.get_by_text("tensorboard --logdir")).to_be_visible()

    page.set_viewport_size({"width": 1400, "height": 900})
    page.screenshot(path=str(ARTIFACTS / "export-formats.png"), full_page=True)
    # Streamlit scrolls its main block, not the page: the runtimes section and the comparison, scrolled to.
    for text, name in [("Phones and other runtimes", "runtimes"), ("TFLite files compared", "compared")]:
        page.get_by_text(text).evaluate("e => e.scrollIntoView({block: 'start'})")
        page.screenshot(path=str(ARTIFACTS / f"export-formats-{name}.png"))


def test_import_a_model_and_refuse_a_lambda(page, server, tmp_path):
    from builder.kerasenv import load_keras

    keras = load_keras()
    inp = keras.Input((6,), name="features")
    out = keras.layers.Dense(5, activation="relu", name="hidden")(inp)
    out = keras.layers.Dense(2, activation="softmax", name="answer")(out)
    keras.Model(inp, out, name="imported").save(tmp_path / "imported.keras")
    lam = keras.layers.Lambda(lambda t: t * 2, name="double")(inp)
    keras.Model(inp, lam).save(tmp_path / "lambda.keras")

    page.goto(server)
    metric_value(page, "Total params").wait_for(timeout=120_000)
    settle(page)
    uploader = page.locator('[data-testid="stSidebar"] input[type="file"]')
    uploader.set_input_files(str(tmp_path / "lambda.keras"))
    expect(page.get_by_text("Lambda")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Your project is unchanged")).to_be_visible()
    expect(metric_value(page, "Total params")).to_have_text("243")
    settle(page)
    uploader.set_input_files(str(tmp_path / "imported.keras"))
    expect(page.get_by_text("Imported imported.keras")).to_be_visible(timeout=60_000)
    expect(metric_value(page, "Total params")).to_have_text(f"{6 * 5 + 5 + 5 * 2 + 2:,}", timeout=60_000)
    go_to(page, "Export", page.get_by_text("weights imported or trained before (2 layers)"))
    # A reload (or another day) starts from the imported weights too: the file is kept with the project.
    page.reload()
    expect(page.get_by_text("weights imported or trained before (2 layers)")).to_be_visible(timeout=60_000)
    download(page, "keras", tmp_path / "again.keras")
    x = np.random.default_rng(2).normal(size=(8, 6)).astype("float32")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "again.keras").predict(x, verbose=0),
                               keras.models.load_model(tmp_path / "imported.keras").predict(x, verbose=0), atol=1e-6)
