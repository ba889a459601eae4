"""One input of the user's own for a model: drawn, uploaded, typed or picked, checked and shaped for it.

No Streamlit here: the Inspect page calls these and shows their messages (`SampleError`).
"""

from __future__ import annotations

import io
import math
import re
import warnings

import numpy as np

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = 4096 * 4096  # checked from the header, before the pixels are decoded


class SampleError(Exception):
    """An input that cannot be used; str(e) says what was received and what to do."""


def value_range(x: np.ndarray) -> tuple[float, float]:
    """The range the model's inputs were trained in (from up to 2,000 samples), so a drawn or uploaded image is
    scaled the same way (digits is 0..16, mnist 0..1)."""
    part = np.asarray(x[:2000], dtype="float64")
    lo, hi = float(np.nanmin(part)), float(np.nanmax(part))
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return 0.0, 1.0
    return lo, hi


def image_shape(input_shape: tuple) -> tuple[int, int, int] | None:
    """(height, width, channels) for an image model's input (channels 1 or 3), else None."""
    if len(input_shape) == 3 and all(isinstance(d, int) and d > 0 for d in input_shape) and input_shape[2] in (1, 3):
        return input_shape
    return None


def _to_model(grey_or_rgb: np.ndarray, shape: tuple[int, int, int], lo: float, hi: float) -> np.ndarray:
    """An 8-bit picture (H, W) or (H, W, 3) resized to the model's input and scaled into [lo, hi]."""
    from PIL import Image

    h, w, c = shape
    img = Image.fromarray(grey_or_rgb.astype("uint8"))
    img = img.convert("L" if c == 1 else "RGB").resize((w, h), Image.Resampling.LANCZOS)
    arr = np.asarray(img, dtype="float32") / 255.0
    arr = arr.reshape(h, w, c)
    return (lo + arr * (hi - lo)).astype("float32")


def from_drawing(rgba: np.ndarray | None, input_shape: tuple, value_range: tuple[float, float]) -> np.ndarray:
    """A drawing (white strokes on black, as the drawing canvas returns it: H×W×4) as one model input.

    The strokes are centred and scaled into the middle of the frame, as the digits of mnist and of scikit-learn's
    digits are, so a small digit drawn in a corner is read like the training images.

    Raises:
        SampleError: nothing drawn, or the model does not take images.
    """
    shape = image_shape(tuple(input_shape))
    if shape is None:
        raise SampleError(f"drawing needs an image model (input height × width × 1 or 3); this one takes "
                          f"{tuple(input_shape)}")
    if rgba is None or np.asarray(rgba).ndim != 3:
        raise SampleError("draw something first")
    rgba = np.asarray(rgba)
    ink = rgba[..., :3].max(axis=-1).astype("float32") * (rgba[..., 3].astype("float32") / 255.0 if rgba.shape[-1] == 4 else 1.0)
    rows, cols = np.nonzero(ink > 20)
    if len(rows) == 0:
        raise SampleError("the drawing is empty: draw a digit (or a shape) with the mouse first")
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    crop = ink[top:bottom, left:right]
    side = int(max(crop.shape) * 1.4) + 2  # a margin around the strokes, as the training digits have
    square = np.zeros((side, side), dtype="float32")
    y0, x0 = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]] = crop
    return _to_model(np.clip(square, 0, 255), shape, *value_range)


def from_image_bytes(data: bytes, input_shape: tuple, value_range: tuple[float, float]) -> np.ndarray:
    """An uploaded picture (PNG, JPEG, ...) as one model input; its size is checked before it is decoded.

    Raises:
        SampleError: too big, not a picture, or the model does not take images.
    """
    shape = image_shape(tuple(input_shape))
    if shape is None:
        raise SampleError(f"an image needs an image model (input height × width × 1 or 3); this one takes "
                          f"{tuple(input_shape)}")
    if len(data) > MAX_IMAGE_BYTES:
        raise SampleError(f"the image is {len(data) / 2**20:.1f} MB; at most {MAX_IMAGE_BYTES // 2**20} MB")
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))  # reads the header only
            w, h = img.size
            if w * h > MAX_IMAGE_PIXELS:
                raise SampleError(f"the image is {w}×{h} pixels; at most {MAX_IMAGE_PIXELS:,} pixels")
            img = img.convert("RGB")
    except SampleError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as e:
        raise SampleError(f"that file is not a picture LayerCanvas can read (PNG, JPEG, GIF, BMP, WebP): "
                          f"{type(e).__name__}") from None
    return _to_model(np.asarray(img), shape, *value_range)


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def from_text(text: str, input_shape: tuple, integers: bool = False) -> np.ndarray:
    """Typed values (separated by spaces or commas) as one model input of `input_shape`.

    Raises:
        SampleError: not numbers, or not as many as the input takes.
    """
    need = math.prod(int(d) for d in input_shape)
    parts = [p for p in re.split(r"[\s,;]+", str(text).strip()) if p]
    bad = [p for p in parts if not _NUMBER.fullmatch(p)]
    if bad:
        raise SampleError(f"{bad[0][:20]!r} is not a number: type {need} numbers, separated by spaces or commas")
    if len(parts) != need:
        raise SampleError(f"the model takes {need} values {tuple(input_shape)}; got {len(parts)}")
    values = np.array([float(p) for p in parts], dtype="float64")
    if not np.all(np.isfinite(values)):
        raise SampleError("every value must be a finite number")
    if integers:
        if not np.all(values == np.round(values)) or values.min() < 0:
            raise SampleError("token ids are whole numbers, 0 or more")
        return values.astype("int32").reshape(input_shape)
    return values.astype("float32").reshape(input_shape)


def check_sample(sample: np.ndarray, input_shape: tuple) -> np.ndarray:
    """`sample` if it has the model's input shape (no batch axis).

    Raises:
        SampleError: another shape, naming both.
    """
    sample = np.asarray(sample)
    if tuple(sample.shape) != tuple(input_shape):
        raise SampleError(f"the model takes one input of shape {tuple(input_shape)}; this one is {tuple(sample.shape)}")
    return sample


def predict_one(model, sample: np.ndarray, class_names: list[str] | None = None) -> dict:
    """The model's answer for one sample.

    Returns:
        `{"kind": "classes", "probs": [..], "names": [..], "top": i}` for a classifier (softmax applied when the
        output does not sum to 1: logits), `{"kind": "binary", "probs": [p0, p1], ...}` for one sigmoid unit, or
        `{"kind": "values", "values": [..]}` otherwise.
    """
    out = np.asarray(model(sample[None], training=False) if callable(model) else model.predict(sample[None]))
    out = np.asarray(out, dtype="float64").reshape(-1)
    names = list(class_names or [])
    if len(out) > 1 and names and len(names) == len(out):
        probs = out
        if not (np.all(out >= -1e-6) and abs(out.sum() - 1) < 1e-3):
            e = np.exp(out - out.max())
            probs = e / e.sum()
        return {"kind": "classes", "probs": probs.tolist(), "names": names, "top": int(np.argmax(probs))}
    if len(out) == 1 and len(names) == 2:
        p = float(out[0]) if 0 <= out[0] <= 1 else float(1 / (1 + np.exp(-out[0])))
        return {"kind": "classes", "probs": [1 - p, p], "names": names, "top": int(p >= 0.5)}
    return {"kind": "values", "values": out.tolist()}
