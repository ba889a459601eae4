"""The Inspect page's parts: one input of the user's own (drawn, uploaded, typed or picked) and the model's answer."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from builder.datasets import Dataset
from builder.samples import (
    SampleError,
    check_sample,
    from_drawing,
    from_image_bytes,
    from_text,
    image_shape,
    predict_one,
    value_range,
)
from components.data_panel import label_name
from components.text import md_escape

DRAW_PX = 280  # the drawing square, in screen pixels


def choose_sample(ds: Dataset | None, input_shape: tuple, key: str = "try") -> tuple[np.ndarray | None, str]:
    """The input controls for `input_shape`; returns (the sample or None, a short description of it)."""
    image = image_shape(input_shape) is not None
    tokens = ds is not None and ds.kind == "tokens"
    sources = (["Draw", "Upload an image"] if image else ["Type values"]) + (["A test sample"] if ds is not None else [])
    source = st.segmented_control("Input", sources, default=sources[0], key=f"{key}_source",
                                  label_visibility="collapsed") or sources[0]
    try:
        if source == "Draw":
            return _drawn(ds, input_shape, key)
        if source == "Upload an image":
            file = st.file_uploader("A picture (PNG, JPEG, GIF, BMP, WebP; up to 10 MB)", key=f"{key}_upload",
                                    type=["png", "jpg", "jpeg", "gif", "bmp", "webp"])
            if file is None:
                return None, ""
            lo_hi = value_range(ds.x_train) if ds is not None else (0.0, 1.0)
            return from_image_bytes(file.getvalue(), input_shape, lo_hi), f"the picture {file.name}"
        if source == "Type values":
            return _typed(ds, input_shape, tokens, key)
        n = len(ds.x_test)
        index = st.number_input(f"Test sample (0 to {n - 1})", 0, n - 1, 0, key=f"{key}_index")
        sample = check_sample(ds.x_test[int(index)], input_shape)
        return sample, f"test sample {int(index)} (true: {label_name(ds, ds.y_test[int(index)])})"
    except SampleError as e:
        st.warning(md_escape(f"{e}."), icon=":material/info:")
        return None, ""


def _drawn(ds: Dataset | None, input_shape: tuple, key: str) -> tuple[np.ndarray | None, str]:
    from streamlit_drawable_canvas import st_canvas

    left, right = st.columns([3, 2], vertical_alignment="top")
    with left:
        drawn = st_canvas(stroke_width=22, stroke_color="#ffffff", background_color="#000000", height=DRAW_PX,
                          width=DRAW_PX, drawing_mode="freedraw", return_image_data=True, key=f"{key}_canvas")
        st.caption("Draw with the mouse (or a finger); the toolbar undoes or clears.")
    image = drawn.image_data if drawn is not None and drawn.json_data and drawn.json_data.get("objects") else None
    if image is None:
        with right:
            st.info("Draw a digit to see what the model makes of it.", icon=":material/draw:")
        return None, ""
    lo_hi = value_range(ds.x_train) if ds is not None else (0.0, 1.0)
    sample = from_drawing(image, input_shape, lo_hi)
    with right:
        st.caption(f"What the model sees ({' × '.join(map(str, input_shape))})")
        st.image(_as_picture(sample), width=140)
    return sample, "your drawing"


def _typed(ds: Dataset | None, input_shape: tuple, tokens: bool, key: str) -> tuple[np.ndarray | None, str]:
    start = ""
    if ds is not None and len(ds.x_test) and tuple(ds.x_test.shape[1:]) == tuple(input_shape):
        first = np.ravel(ds.x_test[0])
        start = " ".join(str(int(v)) if tokens else f"{float(v):.4g}" for v in first[:2000])
    names = ds.feature_names if ds is not None and ds.feature_names else None
    help_text = f"In this order: {', '.join(names[:40])}" if names else None
    text = st.text_area(f"{int(np.prod(input_shape))} {'token ids' if tokens else 'values'}, separated by spaces",
                        value=start, key=f"{key}_text", help=help_text, height=90)
    return from_text(text, input_shape, integers=tokens), "the values typed"


def _as_picture(sample: np.ndarray) -> np.ndarray:
    img = np.asarray(sample, dtype="float32")
    img = img[..., 0] if img.shape[-1] == 1 else img[..., :3]
    lo, hi = float(img.min()), float(img.max())
    img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    return (img * 255).astype("uint8")


def render_prediction(model, sample: np.ndarray, ds: Dataset | None, described: str) -> dict | None:
    """The model's answer for `sample`: the class and every probability, or the values."""
    try:
        answer = predict_one(model, sample, ds.class_names if ds is not None and ds.task == "classification" else None)
    except Exception as e:  # noqa: BLE001 - a model that cannot take this input: say so
        st.error(md_escape(f"The model could not take {described}: {type(e).__name__}: {str(e)[:200]}"),
                 icon=":material/error:")
        return None
    if answer["kind"] == "classes":
        top = answer["top"]
        st.markdown(f"**Prediction for {md_escape(described)}: {md_escape(answer['names'][top])}** "
                    f"({answer['probs'][top]:.1%})")
        st.plotly_chart(probabilities_chart(answer["names"], answer["probs"]), key="try_probs")
    else:
        values = ", ".join(f"{v:.4g}" for v in answer["values"][:20])
        st.markdown(f"**Prediction for {md_escape(described)}:** {md_escape(values)}")
    return answer


def probabilities_chart(names: list[str], probs: list[float]) -> go.Figure:
    order = list(np.argsort(probs)[::-1][:20])  # at most 20 classes, the likeliest first
    top = order[0]
    fig = go.Figure(go.Bar(x=[probs[i] for i in order], y=[str(names[i]) for i in order], orientation="h",
                           marker_color=["#2563eb" if i == top else "#94a3b8" for i in order],
                           text=[f"{probs[i]:.1%}" for i in order], textposition="auto",
                           hovertemplate="%{y}: %{x:.2%}<extra></extra>"))
    fig.update_layout(height=min(60 + 26 * len(order), 520), margin=dict(l=10, r=10, t=10, b=30),
                      xaxis=dict(range=[0, 1], tickformat=".0%", title="probability"),
                      yaxis=dict(autorange="reversed", type="category"))
    return fig
