"""Transfer learning in a real browser: start from MobileNetV2 (random weights: this machine is offline) on a small
image zip, train the head for one epoch, unfreeze the top 20 layers and train one more, export .keras, reload it:
the same test loss as the page shows, the base's BatchNormalization untouched, the unfrozen layers trained."""

import io
import zipfile

import numpy as np
from playwright.sync_api import expect

from tests.e2e.helpers import ARTIFACTS, download, go_to, metric_value, settle, start_run


def image_zip() -> bytes:
    """Two classes of 32×32 colour images: reddish squares and bluish stripes."""
    from PIL import Image

    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for cls in ("red", "blue"):
            for i in range(30):
                img = rng.integers(0, 80, (32, 32, 3)).astype("uint8")
                if cls == "red":
                    img[8:24, 8:24, 0] = 220
                else:
                    img[:, ::4, 2] = 230
                out = io.BytesIO()
                Image.fromarray(img).save(out, format="PNG")
                zf.writestr(f"shapes/{cls}/{i}.png", out.getvalue())
    return buf.getvalue()


def choose(page, label: str, option: str) -> None:
    """Picks `option` in the selectbox labelled `label`."""
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).click()
    page.get_by_role("option", name=option).click()
    settle(page)


def test_mobilenet_v2_head_then_fine_tune_then_export(page, server, tmp_path):
    from builder.data import datasets
    from builder.kerasenv import load_keras

    keras = load_keras()
    data = image_zip()
    (tmp_path / "shapes.zip").write_bytes(data)

    page.goto(server)
    metric_value(page, "Total params").wait_for(timeout=120_000)
    go_to(page, "Pretrained", page.get_by_text("Start from a pretrained network").first)
    choose(page, "Data", "Upload an image zip…")
    page.locator('[data-testid="stMain"] input[type="file"]').set_input_files(str(tmp_path / "shapes.zip"))
    expect(page.get_by_text("48 training images of 32×32, 2 classes")).to_be_visible(timeout=60_000)
    settle(page)
    page.get_by_text("Random (no download)").click()
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "pretrained-start.png"))
    page.get_by_role("button", name="Create the project").click()
    expect(page.get_by_text("New project from MobileNetV2")).to_be_visible(timeout=180_000)
    expect(page.get_by_text("MobileNetV2 base (frozen")).to_be_visible(timeout=60_000)  # one collapsed group
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "pretrained-canvas.png"))

    # Phase 1: the head alone.
    start_run(page, epochs=1)
    expect(page.get_by_text("Confusion matrix (test data)")).to_be_visible(timeout=300_000)
    settle(page)
    # Phase 2: the top 20 layers of the base too, at a learning rate ten times lower.
    slider = page.get_by_text("Unfreeze the top N layers of the base")
    expect(slider).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Unfreeze and train").click()
    expect(page.get_by_text("fine-tuning: top 20 unfrozen").first).to_be_visible(timeout=300_000)
    expect(page.get_by_text("Fine-tune the base further")).to_be_visible(timeout=300_000)  # phase 2 finished
    expect(page.get_by_text("Confusion matrix (test data)")).to_be_visible(timeout=60_000)
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "pretrained-finetuned.png"), full_page=True)
    shown_loss = float(metric_value(page, "Test loss").inner_text())

    go_to(page, "Export", page.get_by_text("The model trained in run"))
    settle(page)
    download(page, "keras", tmp_path / "model.keras")
    model = keras.models.load_model(tmp_path / "model.keras")
    ds = datasets.parse_image_zip(data, "shapes.zip")  # the same split the page trained and tested on
    probs = model.predict(ds.x_test, verbose=0)
    loss = float(keras.losses.binary_crossentropy(ds.y_test.reshape(-1, 1).astype("float32"), probs).numpy().mean())
    assert abs(loss - shown_loss) < 2e-3, (loss, shown_loss)
    assert float(np.std(probs)) > 1e-3  # a model whose outputs depend on the image, not a constant
    base = [layer for layer in model.layers if layer.name.startswith(("block_", "Conv", "bn_Conv", "expanded_conv"))]
    assert len(base) > 100
    trainable = [layer.name for layer in base if layer.trainable]
    assert 10 <= len(trainable) <= 20  # the top 20 minus its BatchNormalization layers
    assert not any(type(layer).__name__ == "BatchNormalization" and layer.trainable for layer in model.layers)
