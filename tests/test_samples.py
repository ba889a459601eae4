"""A user's own input: drawings, uploaded pictures, typed values; bad ones get a message."""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.data.samples import (
    MAX_IMAGE_PIXELS,
    SampleError,
    check_sample,
    from_drawing,
    from_image_bytes,
    from_text,
    predict_one,
    value_range,
)


def drawing(h=280, w=280, box=(100, 180, 120, 160)) -> np.ndarray:
    """White strokes (a filled bar) on black, RGBA, as the drawing canvas returns."""
    img = np.zeros((h, w, 4), dtype="uint8")
    img[..., 3] = 255
    top, bottom, left, right = box
    img[top:bottom, left:right, :3] = 255
    return img


def png(arr: np.ndarray, fmt: str = "PNG") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


def test_a_drawing_becomes_the_models_input_centred_and_in_the_training_range():
    x = from_drawing(drawing(box=(10, 90, 10, 40)), (8, 8, 1), (0.0, 16.0))  # drawn in a corner
    assert x.shape == (8, 8, 1) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 16 and x.max() > 8
    rows, cols = np.nonzero(x[..., 0] > 4)
    assert abs(rows.mean() - 3.5) < 1.5 and abs(cols.mean() - 3.5) < 1.5  # centred, as the training digits are
    rgb = from_drawing(drawing(), (32, 32, 3), (0.0, 1.0))
    assert rgb.shape == (32, 32, 3) and np.allclose(rgb[..., 0], rgb[..., 2])


@pytest.mark.parametrize("bad, says", [
    (np.zeros((280, 280, 4), dtype="uint8"), "empty"),
    (None, "draw something"),
])
def test_an_empty_drawing_says_so(bad, says):
    with pytest.raises(SampleError, match=says):
        from_drawing(bad, (8, 8, 1), (0, 16))


def test_drawing_for_a_model_that_takes_no_images_says_what_it_takes():
    with pytest.raises(SampleError, match=r"image model .*\(4,\)"):
        from_drawing(drawing(), (4,), (0, 1))


def test_an_uploaded_picture_is_read_grey_or_colour():
    arr = np.zeros((50, 40, 3), dtype="uint8")
    arr[:, 20:] = 255
    for fmt in ("PNG", "JPEG", "BMP"):
        x = from_image_bytes(png(arr, fmt), (10, 10, 1), (0.0, 1.0))
        assert x.shape == (10, 10, 1) and x[:, :3].max() < 0.2 and x[:, 7:].min() > 0.8


@pytest.mark.parametrize("data, says", [
    (b"not a picture at all", "not a picture"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not a picture"),
    (b"x" * (10 * 1024 * 1024 + 1), "at most 10 MB"),
])
def test_bad_uploads_get_a_message(data, says):
    with pytest.raises(SampleError, match=says):
        from_image_bytes(data, (8, 8, 1), (0, 1))


def test_a_huge_picture_is_refused_from_its_header_before_decoding():
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    side = 20_000  # 400 M pixels declared in a file of a few bytes
    header = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
    data = header + chunk(b"IEND", b"")
    assert side * side > MAX_IMAGE_PIXELS and len(data) < 100
    with pytest.raises(SampleError, match="pixels|not a picture"):
        from_image_bytes(data, (8, 8, 1), (0, 1))


def test_typed_values_and_tokens():
    assert from_text("5.1, 3.5 1.4;0.2", (4,)).tolist() == pytest.approx([5.1, 3.5, 1.4, 0.2])
    tokens = from_text("1 2 3", (3,), integers=True)
    assert tokens.dtype == np.int32 and tokens.tolist() == [1, 2, 3]
    with pytest.raises(SampleError, match="takes 4 values"):
        from_text("1 2 3", (4,))
    with pytest.raises(SampleError, match="not a number"):
        from_text("1 two 3 4", (4,))
    with pytest.raises(SampleError, match="whole numbers"):
        from_text("1 2.5 3", (3,), integers=True)
    with pytest.raises(SampleError, match="finite"):
        from_text("1 2 3 1e999", (4,))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=12))
def test_any_typed_list_of_the_right_length_round_trips(values):
    text = " , ".join(repr(v) for v in values)
    assert from_text(text, (len(values),)).tolist() == pytest.approx([np.float32(v) for v in values])


def test_check_sample_names_both_shapes():
    assert check_sample(np.zeros((4,)), (4,)).shape == (4,)
    with pytest.raises(SampleError, match=r"\(4,\).*\(3,\)"):
        check_sample(np.zeros((3,)), (4,))


def test_value_range_follows_the_training_data():
    assert value_range(np.linspace(0, 16, 100)) == (0.0, 16.0)
    assert value_range(np.zeros(10)) == (0.0, 1.0)


def test_predict_one_gives_probabilities_for_softmax_logits_and_sigmoid():
    def fixed(out):
        return lambda batch, training=False: np.asarray([out], dtype="float32")

    soft = predict_one(fixed([0.1, 0.7, 0.2]), np.zeros(4), ["a", "b", "c"])
    assert soft["kind"] == "classes" and soft["top"] == 1 and soft["probs"] == pytest.approx([0.1, 0.7, 0.2])
    logits = predict_one(fixed([2.0, -1.0, 0.5]), np.zeros(4), ["a", "b", "c"])
    assert logits["top"] == 0 and sum(logits["probs"]) == pytest.approx(1) and min(logits["probs"]) > 0
    binary = predict_one(fixed([0.8]), np.zeros(4), ["no", "yes"])
    assert binary["top"] == 1 and binary["probs"] == pytest.approx([0.2, 0.8])
    value = predict_one(fixed([3.5]), np.zeros(4), [])
    assert value == {"kind": "values", "values": [3.5]}
