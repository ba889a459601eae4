"""The Inspect page's parts: one input of the user's own (drawn, uploaded, typed or picked) and the model's answer."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from builder.data.datasets import Dataset
from builder.data.samples import (
    SampleError,
    check_sample,
    from_drawing,
    from_image_bytes,
    from_text,
    image_shape,
    predict_one,
    value_range,
)
from components import state
from components.charts import norms, plain
from components.data_panel import label_name, to_picture
from components.text import md_escape

DRAW_PX = 280  # the drawing square, in screen pixels
NARROW_DRAW_PX = 220  # in the Build page's side column (at 1400 px the column is about 290 px wide)
# streamlit-drawable-canvas floats its toolbar 2.65rem (42 px) above the canvas, over whatever is there (the input
# choice); elements are 1rem apart: this much more room keeps the toolbar clear of the buttons above.
TOOLBAR_ROOM_PX = 16


def fitting_builtins(input_shape: tuple) -> list[str]:
    """The built-in datasets whose samples have the model's input shape."""
    from builder.data.datasets import BUILTIN

    return [name for name, info in BUILTIN.items() if tuple(info.input_shape) == tuple(input_shape)]


def _data_does_not_fit(ds: Dataset, input_shape: tuple) -> None:
    """Says that the project's data does not fit the model, and which built-in data would."""
    shown = " × ".join(map(str, input_shape))
    have = " × ".join(map(str, ds.x_test.shape[1:]))
    fits = fitting_builtins(input_shape)
    st.caption(f"The project's data ({md_escape(ds.name)}: {have}) does not fit this model's input ({shown}). "
               + (f"Data that fits: {', '.join(fits)}. Choose it on the Data page." if fits else
                  "Choose or upload data of that shape on the Data page."))
    st.page_link("pages/data.py", label="Data page", icon=":material/dataset:")


def choose_sample(ds: Dataset | None, input_shape: tuple, key: str = "try",
                  narrow: bool = False) -> tuple[np.ndarray | None, str]:
    """The input controls for `input_shape`; returns (the sample or None, a short description of it). Drawing is
    offered for one-channel images (a digit), a test sample when the project's data fits the model; `narrow`: a
    side column (things stacked, not side by side)."""
    image = image_shape(input_shape) is not None
    drawable = image and input_shape[2] == 1
    tokens = ds is not None and ds.kind == "tokens"
    fits = ds is not None and len(ds.x_test) > 0 and tuple(ds.x_test.shape[1:]) == tuple(input_shape)
    sources = (["Draw"] if drawable else []) + (["Upload an image"] if image else ["Type values"]) \
        + (["A test sample"] if fits else [])
    source = st.segmented_control("Input", sources, default=sources[0], key=f"{key}_source",
                                  label_visibility="collapsed") or sources[0]
    if ds is not None and not fits:
        _data_does_not_fit(ds, input_shape)
    try:
        if source == "Draw":
            return _drawn(ds if fits else None, input_shape, key, narrow)
        if source == "Upload an image":
            file = st.file_uploader("A picture (PNG, JPEG, GIF, BMP, WebP; up to 10 MB)", key=f"{key}_upload",
                                    type=["png", "jpg", "jpeg", "gif", "bmp", "webp"])
            if file is None:
                return None, ""
            lo_hi = value_range(ds.x_train) if fits else (0.0, 1.0)
            return from_image_bytes(file.getvalue(), input_shape, lo_hi), f"the picture {file.name}"
        if source == "Type values":
            return _typed(ds if fits else None, input_shape, tokens, key)
        n = len(ds.x_test)
        index = st.number_input(f"Test sample (0 to {n - 1})", 0, n - 1, 0, key=f"{key}_index")
        sample = check_sample(ds.x_test[int(index)], input_shape)
        return sample, f"test sample {int(index)} (true: {label_name(ds, ds.y_test[int(index)])})"
    except SampleError as e:
        text = str(e)
        st.warning(md_escape(f"{text[:1].upper()}{text[1:]}."), icon=":material/info:")
        return None, ""


def _drawn(ds: Dataset | None, input_shape: tuple, key: str, narrow: bool = False) -> tuple[np.ndarray | None, str]:
    from streamlit_drawable_canvas import st_canvas

    # Side by side on a wide page; one below the other in a side column, where a note beside the square would be
    # one word a line.
    left, right = (st.container(), st.container()) if narrow else st.columns([3, 2], vertical_alignment="top")
    if not narrow:
        right.space(TOOLBAR_ROOM_PX)  # what is beside the canvas starts level with it
    with left:
        st.space(TOOLBAR_ROOM_PX)
        size = NARROW_DRAW_PX if narrow else DRAW_PX
        drawn = st_canvas(stroke_width=round(22 * size / DRAW_PX), stroke_color="#ffffff", background_color="#000000",
                          height=size, width=size, drawing_mode="freedraw", return_image_data=True,
                          key=f"{key}_canvas")
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
        st.image(to_picture(sample), width=140)
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
    if not text.strip():  # nothing typed yet: what to do, not a complaint
        st.info(f"Type {int(np.prod(input_shape))} {'token ids' if tokens else 'values'} to see what the model makes "
                "of them.", icon=":material/keyboard:")
        return None, ""
    return from_text(text, input_shape, integers=tokens), "the values typed"


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


# -- one layer's output ------------------------------------------------------------------------------------------------

MAX_BARS = 256  # values of a vector drawn as bars (the rest are summarized)
TILE_COLUMNS = 8


def feature_grid(array: np.ndarray, lo: float, hi: float, columns: int = TILE_COLUMNS, scale: int = 0) -> np.ndarray:
    """H×W×C feature maps as one grey picture: a tile per channel, on one colour scale (lo..hi), 2 px apart."""
    h, w, c = array.shape
    scale = scale or max(1, min(8, 64 // max(h, w, 1)))
    cols = min(columns, c)
    rows = -(-c // cols)
    pad = 2
    grid = np.full((rows * (h * scale + pad) - pad, cols * (w * scale + pad) - pad), 255, dtype="uint8")
    span = hi - lo if hi > lo else 1.0
    for i in range(c):
        tile = ((array[..., i] - lo) / span * 255).clip(0, 255).astype("uint8")
        tile = np.kron(tile, np.ones((scale, scale), dtype="uint8"))
        r, q = divmod(i, cols)
        y, x = r * (h * scale + pad), q * (w * scale + pad)
        grid[y:y + h * scale, x:x + w * scale] = tile
    return grid


def render_layer_output(out, ds: Dataset | None = None, key: str = "", columns: int = TILE_COLUMNS) -> None:
    """Draws a `builder.train.inspect.LayerOutput`: feature maps as a grid, a vector as bars, a sequence as a heatmap,
    the final output as class probabilities."""
    shape = " × ".join(map(str, out.shape))
    more = f"; the first {out.array.shape[-1]} of {out.channels} channels" if out.capped and out.kind == "image" else ""
    st.caption(f"{md_escape(out.name)} ({md_escape(out.layer_type)}): {shape}, values {out.min:.3g} to "
               f"{out.max:.3g}{more}")
    if out.kind == "image":
        st.image(feature_grid(out.array, out.min, out.max, columns), clamp=True, width="stretch")
    elif out.kind == "probabilities" and ds is not None and ds.task == "classification" and \
            out.array.size == len(ds.class_names):
        st.plotly_chart(probabilities_chart(ds.class_names, out.array.tolist()), key=f"out:{key}:{out.name}")
    elif out.kind in ("vector", "probabilities"):
        values = out.array.reshape(-1)
        fig = go.Figure(go.Bar(y=values[:MAX_BARS], marker_color="#2563eb",
                               hovertemplate="unit %{x}: %{y:.4g}<extra></extra>"))
        fig.update_layout(height=200, margin=dict(l=10, r=10, t=10, b=30), xaxis_title="unit", bargap=0.1)
        st.plotly_chart(fig, key=f"out:{key}:{out.name}")
        if values.size > MAX_BARS:
            st.caption(f"The first {MAX_BARS} of {values.size} values.")
    elif out.kind == "sequence":
        fig = go.Figure(go.Heatmap(z=out.array.T, colorscale="RdBu", zmid=0, showscale=False,
                                   hovertemplate="step %{x}, feature %{y}: %{z:.4g}<extra></extra>"))
        fig.update_layout(height=220, margin=dict(l=10, r=10, t=10, b=30), xaxis_title="step", yaxis_title="feature")
        st.plotly_chart(fig, key=f"out:{key}:{out.name}")
    else:
        st.caption(f"A tensor of shape {shape}: no picture for this one.")


LIVE_WEIGHTS = state.per_project("lc_live_weights")  # (model id, weights id): the Build page's model has the session's weights


def render_live_output(result, nid: str, graph) -> None:
    """The selected layer's output for one sample, with the current weights (untrained, imported or trained), on
    the Build page's own model: computed only while this section is open."""
    box = st.expander("Output on a sample", key="live_open", on_change="rerun")
    if not box.open:
        return
    with box:
        model = result.model if result is not None else None
        if model is None:
            st.caption("The model has errors: fix them to see this layer's output.")
            return
        if len(model.inputs) != 1:
            st.caption("This needs a model with one input.")
            return
        from components.data_panel import current_dataset

        ds = current_dataset(graph)
        _with_session_weights(model)
        input_shape = tuple(int(d) for d in model.inputs[0].shape[1:])
        sample, described = choose_sample(ds, input_shape, key="live", narrow=True)
        if sample is None:
            return
        from builder.train.inspect import InspectError, layer_outputs

        try:
            out = layer_outputs(model, sample, [nid])[nid]
        except InspectError as e:
            st.warning(md_escape(str(e)), icon=":material/info:")
            return
        st.caption(f"For {md_escape(described)}:")
        render_layer_output(out, ds, key="live", columns=4)  # a narrow column: bigger tiles


def _with_session_weights(model) -> None:
    """Loads the imported or trained weights into the Build page's model (once per model and weights)."""
    from components.training_panel import WEIGHTS

    weights = st.session_state.get(WEIGHTS)
    mark = (id(model), id(weights))
    if not weights or st.session_state.get(LIVE_WEIGHTS) == mark:
        return
    from builder.model.build import apply_weights

    apply_weights(model, weights)
    st.session_state[LIVE_WEIGHTS] = mark


# -- the Inspect page's other views ----------------------------------------------------------------------------------

LAYERS_PER_PAGE = 8


def render_inside(model, before: list, sample: np.ndarray, ds: Dataset | None, described: str) -> None:
    """Every layer's output for one sample: the trained model's, with the models in `before` ((label, model),
    builder.train.inspect.compared_models: untrained, at the start of the run) to its left."""
    from builder.train.inspect import InspectError, layer_outputs

    try:
        trained = layer_outputs(model, sample)
        columns = [(label, layer_outputs(other, sample)) for label, other in before]
    except InspectError as e:
        st.warning(md_escape(str(e)), icon=":material/info:")
        return
    columns.append(("Trained", trained))
    names = list(trained)
    pages = max(1, -(-len(names) // LAYERS_PER_PAGE))
    page = 1
    if pages > 1:
        page = st.number_input(f"Layers, page (of {pages}; {LAYERS_PER_PAGE} layers a page)", 1, pages, 1,
                               key="inside_page")
    shown = names[(page - 1) * LAYERS_PER_PAGE: page * LAYERS_PER_PAGE]
    st.caption(f"For {md_escape(described)}." + ("" if before else
               " The untrained model is shown beside the trained one for runs trained in this session."))
    for name in shown:
        if before:
            for i, (col, (label, outputs)) in enumerate(zip(st.columns(len(columns)), columns, strict=False)):
                with col:
                    st.markdown(f"**{label}**" if name == shown[0] else "")
                    render_layer_output(outputs[name], ds, key=f"column{i}")
        else:
            render_layer_output(trained[name], ds, key="trained")
        st.divider()


def _colour(heat: np.ndarray, picture: np.ndarray) -> np.ndarray:
    """The heatmap (0..1) in red over the grey picture, as 8-bit RGB."""
    grey = picture.astype("float32")
    grey = grey.mean(axis=-1) if grey.ndim == 3 else grey
    lo, hi = float(grey.min()), float(grey.max())
    grey = (grey - lo) / (hi - lo) if hi > lo else np.zeros_like(grey)
    rgb = np.stack([grey * 0.6] * 3, axis=-1)
    rgb[..., 0] = np.maximum(rgb[..., 0], heat)
    rgb[..., 1] *= 1 - heat * 0.7
    rgb[..., 2] *= 1 - heat * 0.7
    return (rgb.clip(0, 1) * 255).astype("uint8")


def render_explain(model, ds: Dataset | None) -> None:
    """Grad-CAM (or a saliency map) for a test image: which pixels drove the prediction."""
    from builder.train.inspect import InspectError, heatmap

    if ds is None or ds.kind != "image" or ds.task != "classification":
        st.info("Grad-CAM explains image classifiers: pick image data (digits, an image zip) on the Data page.")
        return
    n = len(ds.x_test)
    c1, c2 = st.columns(2)
    index = int(c1.number_input(f"Test image (0 to {n - 1})", 0, n - 1, 0, key="explain_index"))
    names = list(ds.class_names)
    target = c2.selectbox("Explain the class", ["the predicted one", *names], key="explain_class")
    image = ds.x_test[index]
    try:
        method, heat = heatmap(model, image, None if target == "the predicted one" else names.index(target))
    except InspectError as e:
        st.warning(md_escape(str(e)), icon=":material/info:")
        return
    answer = predict_one(model, image, names)
    said = f"true {label_name(ds, ds.y_test[index])}, predicted {answer['names'][answer['top']]}" \
        if answer["kind"] == "classes" else ""
    left, right = st.columns(2)
    left.image(to_picture(image), caption=md_escape(f"Test image {index}: {said}"), width="stretch")
    what = "Grad-CAM (last convolution)" if method == "grad_cam" else "Saliency (no convolution to use)"
    right.image(_colour(heat, np.asarray(image)), caption=f"{what}: red drove the score most", width="stretch")


def render_filters(model) -> None:
    """The first convolution's filters as pictures."""
    from builder.train.inspect import first_conv_filters

    filters = first_conv_filters(model)
    if filters is None:
        st.info("This model has no 2-D convolution: there are no filters to draw.")
        return
    n, kh, kw, c = filters.shape
    st.caption(f"{n} filters of {kh}×{kw}" + (" (colour: red, green, blue input channels)" if c == 3 else
               f", input channel 1 of {c}" if c > 1 else "") + "; light is a positive weight, dark a negative one.")
    if c == 3:
        cols = st.columns(8)
        for i in range(n):
            cols[i % 8].image((filters[i] * 255).astype("uint8"), width="stretch")
    else:
        tiles = np.moveaxis(filters[..., 0], 0, -1)  # kh × kw × n
        st.image(feature_grid(tiles, 0.0, 1.0, columns=8, scale=max(4, 48 // max(kh, kw))), width=520)


def _epoch_name(epoch: int) -> str:
    return "before training" if epoch == 0 else f"epoch {epoch}"


def render_weights_gradients(rows: list[dict] | None, key: str = "") -> None:
    """Per layer and epoch: the size (L2 norm) of its weights and gradients, and their histograms."""
    if not rows:
        st.info("No weights and gradients recorded: train a model (with 'Weights and gradients' on in the "
                "settings) to see them here.")
        return
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    left, right = st.columns(2)
    for col, what, title in ((left, "weight_norm", "Weight norm"), (right, "grad_norm", "Gradient norm")):
        col.plotly_chart(norms(rows, what, title), key=f"wg:{key}:{what}")
    c1, c2 = st.columns(2)
    layer = c1.selectbox("Layer", layers, key=f"wg_layer{key}")
    mine = [r for r in rows if r["layer"] == layer]
    epochs = sorted({r["epoch"] for r in mine})
    epoch = (c2.select_slider("Epoch", epochs, value=epochs[-1], key=f"wg_epoch{key}", format_func=_epoch_name)
             if len(epochs) > 1 else epochs[0])
    row = next(r for r in reversed(mine) if r["epoch"] == epoch)
    left, right = st.columns(2)
    for col, what, title in ((left, "weight_hist", "Weights"), (right, "grad_hist", "Gradients")):
        hist = row.get(what) or {}
        edges, counts = hist.get("edges") or [], hist.get("counts") or []
        if len(edges) == len(counts) + 1 and counts:
            mids = [(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False)]
            fig = go.Figure(go.Bar(x=mids, y=counts, marker_color="#2563eb"))
            fig.update_layout(height=240, margin=dict(l=10, r=10, t=30, b=30), title=f"{title} of {plain(layer)}, {_epoch_name(epoch)}",
                              bargap=0.05)
            col.plotly_chart(fig, key=f"wg:hist:{key}:{what}")
