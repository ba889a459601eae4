"""The inspector: the selected node's parameters as widgets made from its ParamSpecs.

Every widget edit goes through `Graph.set_param`; a refused value shows the
message and leaves the graph as it was.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import streamlit as st

from builder.model.build import BuildResult, fmt_shape
from builder.model.catalog import LAYERS, ParamSpec, default_params
from builder.model.graph import Graph, GraphError
from components.text import clip, md_escape

ERROR = "lc_inspector_error"  # (node id, param path, message) of the last refused value
OWN = "lc_inspector_own"  # {(node id, param path): (widget key, the value it set as JSON, edits so far)}


LISTS = ("shape",)  # kinds whose value is always a list: a single number typed there is a list of one


def _parse(text: str, kind: str = "") -> Any:
    """`3, 3` -> [3, 3]; `3` -> 3; `none` or empty -> None; JSON otherwise. A trailing comma is dropped, and for
    a shape `16`, `16,` and `[16]` are all [16]."""
    text = text.strip()
    if text.lower() in ("", "none", "null"):
        return None
    text = text.replace("(", "[").replace(")", "]").replace("None", "null")
    text = re.sub(r",\s*(?=\]|$)", "", text).strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        try:
            value = json.loads(f"[{text}]")
        except json.JSONDecodeError:
            return text
    if kind in LISTS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]
    return value


def _show(value: Any) -> str:
    """A value as the inspector shows it, one form for every list: `3, 3`, `16` (a shape of one); None: empty."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(json.dumps(_plain(v)) for v in value)  # nested lists (padding pairs) keep brackets
    return json.dumps(value)


def _plain(value: Any) -> Any:
    """Tuples (a catalog default) as lists, so they show as JSON does."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _widget(ps: ParamSpec, value: Any, key: str, on_change=None, args=()) -> Any:
    """One widget for one param; `on_change(*args)` runs (before the page) when the user changes it."""
    label = ps.name + (" *" if ps.required else "")
    k = ps.kind
    cb = {"on_change": on_change, "args": args}
    if k == "bool":
        return st.toggle(label, value=bool(value), key=key, help=ps.help, **cb)
    if k in ("choice", "initializer"):
        options = list(ps.choices)
        if value not in options:
            options.append(value)
        return st.selectbox(label, options, index=options.index(value), key=key, help=ps.help,
                            format_func=lambda v: "none" if v is None else str(v), **cb)
    if k in ("int", "float") and (value is None or isinstance(value, (int, float))) and not isinstance(value, bool):
        whole = k == "int"
        lo = None if ps.min is None or ps.min_exclusive else (int(ps.min) if whole else float(ps.min))
        hi = None if ps.max is None or ps.max_exclusive or ps.max >= 2**31 - 1 else (int(ps.max) if whole else float(ps.max))
        shown = value if value is None else (int(value) if whole else float(value))
        if shown is not None and ((lo is not None and shown < lo) or (hi is not None and shown > hi)):
            lo = hi = None  # show an out-of-range value as it is, with its message
        return st.number_input(label, value=shown, min_value=lo, max_value=hi, step=1 if whole else None,
                               format=None if whole else "%g", key=key, help=ps.help, placeholder="none", **cb)
    if k == "regularizer":
        value = value if isinstance(value, dict) else {}
        c1, c2 = st.columns(2)
        l1 = c1.number_input(f"{ps.name} l1", value=float(value.get("l1", 0.0)), min_value=0.0, format="%g", key=key + ":l1", **cb)
        l2 = c2.number_input(f"{ps.name} l2", value=float(value.get("l2", 0.0)), min_value=0.0, format="%g", key=key + ":l2", **cb)
        return _regularizer(l1, l2)
    text = st.text_input(label, value=_show(value), key=key, help=ps.help + " Separate numbers with commas.", **cb)
    return _parse(text, ps.kind)


def _fits(ps: ParamSpec, key: str, value: Any) -> bool:
    """Whether the widget under `key` would show `value`: it holds it, or has not been drawn yet."""
    keys = (key + ":l1", key + ":l2") if ps.kind == "regularizer" else (key,)
    if not any(k in st.session_state for k in keys):
        return True
    return _same(_read(ps, key), value)


def _regularizer(l1: float, l2: float) -> dict | None:
    return {name: v for name, v in (("l1", l1), ("l2", l2)) if v} or None


def _read(ps: ParamSpec, key: str) -> Any:
    """The value a param's widget holds, from the session state (for callbacks)."""
    if ps.kind == "regularizer":
        return _regularizer(st.session_state.get(key + ":l1", 0.0), st.session_state.get(key + ":l2", 0.0))
    value = st.session_state.get(key)
    if ps.kind in ("bool", "choice", "initializer"):
        return value
    if ps.kind in ("int", "float") and (value is None or isinstance(value, (int, float))):
        return value
    return _parse(value if isinstance(value, str) else "", ps.kind)


def _apply(nid: str, path: str, ps: ParamSpec, key: str, after=None) -> None:
    """Callback of a param widget: the edit becomes an undoable step, or its message is kept to show (the box's own
    run shows it). Once an edit is taken, `after(nid, quiet)` runs (when given; `quiet`: no message was showing) and
    says what reruns besides the box (it raises Streamlit's rerun exception)."""
    from components import state

    graph = state.get_graph()
    if not graph.has(nid):
        return
    new = _read(ps, key)
    value = None if (not ps.required and _norm(new) == _norm(ps.default)) else new
    try:
        state.commit(graph.set_param(nid, path, value))
    except GraphError as e:
        st.session_state[ERROR] = (nid, path, str(e))
        return
    shown = st.session_state.pop(ERROR, None)
    # The widget shows the value it set: it keeps its key (a new key would make the browser draw it anew).
    # The edit count makes the key of any later value shown by another edit (undo) one never used before.
    own = st.session_state.setdefault(OWN, {})
    own[(nid, path)] = (key, json.dumps(new, default=str), own.get((nid, path), (None, None, 0))[2] + 1)
    if after is not None:
        after(nid, shown is None)  # last: it raises Streamlit's rerun exception


def _param_widgets(graph: Graph, nid: str, spec, params: dict, prefix: str = "", after=None) -> Graph | None:
    """Widgets for every param of `spec`; the edited graph when one changed. `after`: see `_apply`."""
    from builder.model.space import node_marks

    marks = node_marks(graph, nid)
    plain = [p for p in spec.params if not p.advanced]
    advanced = [p for p in spec.params if p.advanced]
    changed = None
    for group, specs in (("plain", plain), ("advanced", advanced)):
        if not specs:
            continue
        # The advanced settings are made only while their expander is open: an edit of a plain one then
        # redraws a few widgets, not a dozen.
        # Open or closed for every layer of the type alike (one key), as when working through their settings.
        box = (st.expander("More settings", key=f"more:{spec.type}:{prefix}", on_change="rerun") if group == "advanced"
               else contextlib.nullcontext())
        if group == "advanced" and not box.open:
            continue
        with box:
            for ps in specs:
                if ps.kind == "layer":
                    changed = _wrapped(graph, nid, ps, params.get(ps.name), after) or changed
                    continue
                current = params.get(ps.name, None if ps.required else ps.default)
                path = prefix + ps.name
                # Keyed by the value it shows, so that an undo or a canvas edit draws it with the new value;
                # but a value this very widget set keeps its key.
                shown = json.dumps(current, default=str)
                own = st.session_state.get(OWN, {}).get((nid, path), (None, None, 0))
                # Else one key for every layer of the type showing this value (selecting another layer then redraws
                # only what differs, not every widget anew), unless a value left there by another layer differs:
                # then a key of this layer's own.
                shared = f"p:{spec.type}:{path}:{shown}"
                key = (own[0] if own[1] == shown
                       else shared if _fits(ps, shared, current) else f"p:{nid}:{path}:{shown}:{own[2]}")
                _param_box(ps, current, key, (nid, path, ps, key, after), marks.get(path))
    return changed


@st.fragment
def _param_box(ps: ParamSpec, current: Any, key: str, args: tuple, mark: str | None) -> None:
    """One param's box, its search mark and the message of a value it refused: a fragment of its own. A value typed
    in it starts a run of this fragment alone, so the browser marks only the box as stale meanwhile, not every
    widget of the inspector; the box's callback (`_apply`) then says what reruns."""
    nid, path = args[0], args[1]
    _widget(ps, current, key, on_change=_apply, args=args)
    if mark:
        st.caption(f":material/manage_search: Searched: {md_escape(mark)}")
    error = st.session_state.get(ERROR)
    if error is not None and error[:2] == (nid, path):
        st.error(md_escape(error[2]))


def _same(a: Any, b: Any) -> bool:
    return _norm(a) == _norm(b) and isinstance(a, bool) == isinstance(b, bool)


def _norm(v: Any) -> Any:
    return json.loads(json.dumps(v, default=str)) if isinstance(v, (list, tuple, dict)) else v


def _wrapped(graph: Graph, nid: str, ps: ParamSpec, value: Any, after=None) -> Graph | None:
    """The wrapped layer of Bidirectional / TimeDistributed: its type, then its params."""
    value = value if isinstance(value, dict) else {}
    types = list(ps.layer_types)
    current = value.get("type") if value.get("type") in types else types[0]
    chosen = st.selectbox("wrapped layer", types, index=types.index(current), key=f"p:{nid}:layer-type:{current}", help=ps.help)
    if chosen != current:
        try:
            return graph.set_param(nid, ps.name, {"type": chosen, "params": default_params(chosen)})
        except GraphError as e:
            st.error(md_escape(str(e)))
            return None
    st.caption(f"{chosen} settings")
    return _param_widgets(graph, nid, LAYERS[chosen], value.get("params", {}), prefix=f"{ps.name}.", after=after)


def _inputs_order(graph: Graph, nid: str) -> Graph | None:
    sources = graph.inputs_of(nid)
    if len(sources) < 2:
        return None
    st.markdown("**Inputs, in order**")
    for i, src in enumerate(sources):
        c1, c2 = st.columns([4, 1])
        c1.text(f"{i}: {src}")
        if i and c2.button("↑", key=f"up:{nid}:{i}:{src}", help=f"Move {src} before {sources[i - 1]}"):
            order = sources[:]
            order[i - 1], order[i] = order[i], order[i - 1]
            return graph.set_input_order(nid, order)
    return None


def _adapt(graph: Graph, nid: str) -> Graph | None:
    """A layer that adapts (Normalization): its statistics computed from the chosen dataset (Keras's `adapt`)."""
    from builder.data.adapt import adapt_normalization
    from components.data_panel import current_dataset

    ds = current_dataset(graph)
    if ds is None:
        return None
    if st.button(f"Adapt to {clip(ds.name)}", key=f"adapt:{nid}", icon=":material/functions:",
                 help="Sets mean and variance from the training data, as Keras's adapt() does: the data goes through "
                      "the layers before this one, and the statistics are taken along this layer's axis."):
        try:
            return adapt_normalization(graph, nid, ds.x_train)
        except GraphError as e:
            st.error(md_escape(str(e)))
    return None


def _inference_note(graph: Graph, node) -> None:
    """Why a BatchNormalization-style layer stays frozen when a pretrained base is fine-tuned (builder.train.finetune)."""
    from builder.train.finetune import base_layers, keeps_inference

    if not keeps_inference(node) or (node.trainable and node.id not in base_layers(graph)):
        return
    why = ("frozen, it runs in inference mode on the mean and variance from pretraining (ImageNet). Training it on "
           "small batches would shift them and undo what the base learned.")
    if node.trainable:
        st.warning(f"Better frozen in a pretrained base: {why}", icon=":material/info:")
    else:
        st.caption(f":material/lock: Stays frozen when fine-tuning: {why}")


def render_selection(graph: Graph, result: BuildResult | None, ids: list[str], cost=None) -> Graph | None:
    """Several layers selected: how many, their parameters and MACs together, and what can be done to them all
    (group, delete, copy).

    Returns:
        The edited graph (grouped or deleted), or None.
    """
    from components import canvas
    from components.summary_panel import compact

    st.markdown(f"#### {len(ids)} layers selected")
    infos = result.infos if result is not None else {}
    known = [infos[i].params for i in ids if i in infos]
    if len(known) == len(ids):
        st.text(f"Params {sum(known):,}")
    macs = {r.name: r.macs for r in cost.rows} if cost is not None else {}
    if all(i in macs for i in ids):
        st.text(f"Cost {compact(sum(macs[i] or 0 for i in ids))} MACs")
    st.caption(", ".join(clip(i, 40) for i in ids[:12]) + (f" and {len(ids) - 12} more" if len(ids) > 12 else ""))
    c1 = c2 = c3 = st.container(horizontal=True, gap="small")  # wraps in a narrow column: nothing cut
    if c1.button("Group them", key="many:group", icon=":material/select_all:",
                 help="Put these layers in one block (Ctrl+G)"):
        return graph.group(ids)[0]
    if c2.button("Delete them", key="many:delete", icon=":material/delete:",
                 help="Delete these layers (Undo brings them back)"):
        for nid in ids:
            if graph.has(nid):
                graph = graph.remove_node(nid, bridge=True)
        return graph
    if c3.button("Copy them", key="many:copy", icon=":material/content_copy:",
                 help="Copy these layers: Ctrl+V on the canvas pastes them"):
        canvas.request_copy(ids)
        from components.runtime import rerun

        rerun()  # the canvas was drawn before this column: the next run brings it the request
    return None


def info_text(result: BuildResult | None, nid: str | None, cost=None) -> str | None:
    """The selected layer's output shape, parameters (with their formula) and cost, as the inspector shows them
    under its title; None before the build has said."""
    lines = []
    info = result.infos.get(nid) if result is not None and nid is not None else None
    if info is not None:
        lines.append(f"Output {fmt_shape(info.output_shape)}")
        if info.formula and info.formula != "no weights":
            lines.append(f"Params {info.formula}")
        else:
            lines.append(f"Params {info.params:,}")
    row = next((r for r in cost.rows if r.name == nid), None) if cost is not None else None
    if row is not None and row.arithmetic:
        share = f" ({cost.share(row):.0%} of the model)" if row.macs and cost.total_macs else ""
        lines.append(f"Cost {row.arithmetic}{share}")
    return "\n".join(lines) or None


def offers_trainable(info, node) -> bool:
    """Whether the inspector offers Trainable: where there are weights to train (not on MaxPooling2D, Flatten,
    Dropout, Concatenate...), before the build has said (`info` None), or to unfreeze a layer frozen without any."""
    return info is None or info.params > 0 or not node.trainable


def build_view(result: BuildResult | None, node) -> tuple:
    """What the column beside the canvas draws from the build for `node`, besides `info_text`: its issues (with
    their fixes) and whether it offers Trainable. A value edit that leaves this as it was needs the canvas (and the
    info line) redrawn, not the inspector."""
    if result is None:
        return (node.id, None)
    issues = tuple((i.severity, i.message, i.fix.label if i.fix is not None else None)
                   for i in result.issues if i.node_id == node.id)
    return (node.id, issues, offers_trainable(result.infos.get(node.id), node))


def render_inspector(graph: Graph, result: BuildResult | None, nid: str | None, cost, top,
                     after=None) -> tuple[Graph | None, str | None]:
    """Draws the selected node's inspector: its title in `top` (a container above the info line, which the page
    draws with `info_text`), the rest where this is called. `after(nid, quiet)`: called once a value typed in a box
    is taken (see `_apply`).

    Returns:
        (edited graph or None, the id to select next: changed by rename/delete).
    """
    if nid is None or not graph.has(nid):
        top.caption("Select a layer on the canvas to edit it. Drag layers from the palette on the left, or double-click the canvas to add one by name.")
        return None, nid
    node = graph.node(nid)
    spec = LAYERS.get(node.type)
    with top:
        # Few elements: every one is sent and drawn again at each edit.
        head = st.container(horizontal=True, horizontal_alignment="distribute", vertical_alignment="center", gap=None)
        head.markdown(f"#### {md_escape(clip(node.type))}")  # a type from a graph file is any text
        if head.button("", icon=":material/close:", key="inspector:deselect", help="Deselect", type="tertiary"):
            return None, None
        if spec is None:
            st.error(f"'{md_escape(clip(node.type))}' is not a layer LayerCanvas knows. Delete this node.")
        else:
            st.caption(spec.help)
            if spec.explain:
                what = st.expander("What it does", key=f"what:{spec.type}", on_change="rerun")  # made only while open
                if what.open:
                    what.markdown(md_escape(spec.explain))
    info = result.infos.get(nid) if result is not None else None
    new_id = st.text_input("Name (id)", value=nid, key=f"rename:{nid}", help="Letters, digits and _; the Keras layer name.")
    if new_id != nid:
        try:
            return graph.rename(nid, new_id), new_id
        except GraphError as e:
            st.error(md_escape(str(e)))  # it quotes what was typed
    # One line when the column is wide; the button wraps below the toggle when it is narrow (nothing is cut).
    c1 = c2 = st.container(horizontal=True, gap="small", vertical_alignment="center")
    if spec is not None and not spec.is_input and offers_trainable(info, node):
        trainable = c1.toggle("Trainable", value=node.trainable, key=f"trainable:{nid}:{node.trainable}",
                              help="Off: the layer is frozen (its weights are not trained).")
        if trainable != node.trainable:
            return graph.set_trainable(nid, trainable), nid
        _inference_note(graph, node)
    if c2.button("Delete", key="inspector:delete", icon=":material/delete:", help="Delete this layer (Undo brings it back)."):
        return graph.remove_node(nid, bridge=True), None
    reordered = _inputs_order(graph, nid)
    if reordered is not None:
        return reordered, nid
    if spec is None:
        return None, nid
    edited = _param_widgets(graph, nid, spec, node.params, after=after)
    if edited is not None:
        return edited, nid
    if spec.adapts:
        adapted = _adapt(graph, nid)
        if adapted is not None:
            return adapted, nid
    from components.search_panel import render_node_search

    return render_node_search(graph, nid), nid
