"""The layer catalog: one `LayerSpec` per Keras layer type.

Everything that knows about a particular layer reads it from here: the
palette, the inspector widgets, validation, the model build, code generation
and help text. Adding a layer means adding one `LayerSpec` (and one test row).

This module never imports Keras at import time, so the UI can draw the palette
before TensorFlow has loaded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REQUIRED = object()  # sentinel: the Keras constructor has no default
DEFAULT_MODULE = "keras.layers"
INT_MAX = 2**31 - 1

# Every activation Keras 3 names (keras.activations), but two that a name alone cannot use: `threshold` needs
# two more arguments, and `glu` halves its axis while Keras declares the input's shape (Dense(8, activation="glu")
# says (None, 8) and outputs (None, 4)). tests/test_catalog.py checks the list against Keras.
ACTIVATIONS = (
    None, "linear", "relu", "sigmoid", "softmax", "tanh", "elu", "selu", "gelu",
    "swish", "silu", "softplus", "softsign", "leaky_relu", "relu6",
    "hard_sigmoid", "exponential", "mish", "log_softmax",
    "hard_silu", "hard_swish", "hard_tanh", "celu", "squareplus", "sparse_plus", "sparse_sigmoid", "sparsemax",
    "log_sigmoid", "tanh_shrink", "soft_shrink", "hard_shrink",
)
INITIALIZERS = (
    "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
    "lecun_uniform", "lecun_normal", "orthogonal", "zeros", "ones",
    "random_normal", "random_uniform", "truncated_normal", "uniform",
)
DTYPES = ("float32", "float16", "bfloat16", "float64", "int32", "int64", "bool")
PADDINGS = ("valid", "same")
FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("bilinear", "nearest")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    """A finite number; a whole number too large for a float (10**400) is not one."""
    if _is_int(v):
        return abs(v) <= MAX_FLOAT
    return isinstance(v, float) and math.isfinite(v)


MAX_FLOAT = 1.7976931348623157e308


def show_value(v: Any) -> str:
    """Short, single-line rendering of a received value for messages."""
    try:
        text = repr(v)
    except ValueError:  # a whole number of more than 4,300 digits: Python refuses to print it
        text = f"about {'-' if v < 0 else ''}10**{int(v.bit_length() * 0.30103)}"
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class ParamSpec:
    """One Keras constructor keyword argument.

    Args:
        name: The Keras kwarg name.
        kind: One of `int`, `float`, `bool`, `choice`, `ints` (an int or a
            tuple of `length` ints), `shape`, `axes`, `range` (a float or a
            pair), `numbers` (a number or a list, possibly nested, of
            numbers: per-channel statistics), `pad2d`, `regularizer`,
            `initializer`, `layer` (a wrapped layer: `{"type", "params"}`).
        default: The Keras default, or `REQUIRED`.
        help: One line for the inspector.
        min, max: Inclusive bounds for numbers (and each element of tuples).
        choices: Allowed values for `choice` and `initializer`.
        length: Tuple length for `ints` and `range`.
        nullable: None is allowed (and means "Keras decides").
        min_exclusive, max_exclusive: Make a bound strict.
        layer_types: For `layer`: the types that may be wrapped.
        any_size: For `shape`: a size may be None (any length).
        one_free: For `shape`: one size may be -1 (inferred, as Reshape does).
        single: For `axes`: exactly one axis (Keras takes no list there).
        many: For `axes`: a list, even of one axis (Keras takes no single number).
        advanced: Shown folded away in the inspector.
    """

    name: str
    kind: str
    default: Any = REQUIRED
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    length: int | None = None
    nullable: bool = False
    min_exclusive: bool = False
    max_exclusive: bool = False
    layer_types: tuple[str, ...] | None = None
    any_size: bool = False
    one_free: bool = False
    single: bool = False
    many: bool = False
    advanced: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    # -- checking ---------------------------------------------------------
    def _bounds_text(self) -> str:
        lo = "" if self.min is None else (">" if self.min_exclusive else ">=") + f" {self.min:g}"
        hi = "" if self.max in (None, INT_MAX) else ("<" if self.max_exclusive else "<=") + f" {self.max:g}"
        return " and ".join(t for t in (lo, hi) if t)

    def _in_bounds(self, v: float) -> bool:
        if self.min is not None and (v <= self.min if self.min_exclusive else v < self.min):
            return False
        if self.max is not None and (v >= self.max if self.max_exclusive else v > self.max):
            return False
        return True

    def _number_problem(self, v: Any, whole: bool) -> str | None:
        word = "a whole number" if whole else "a number"
        if not (_is_int(v) if whole else _is_num(v)):
            return f"expected {word}, got {show_value(v)}"
        if not self._in_bounds(v):
            return f"expected {word} {self._bounds_text()}, got {show_value(v)}"
        return None

    def _numbers_problem(self, v: Any) -> str | None:
        """A number, or a non-empty list of them (nested lists of equal lengths: one per kept axis)."""
        expected = "expected a number or a list of numbers, e.g. [123.7, 116.3, 103.5]"
        if _is_num(v):
            return None if self._in_bounds(v) else f"expected numbers {self._bounds_text()}, got {show_value(v)}"
        level = [v]
        while level and all(isinstance(i, (list, tuple)) for i in level):
            if not all(level):
                return f"{expected}, got {show_value(v)}"
            if len({len(i) for i in level}) != 1:
                return f"{expected} (lists of equal lengths), got {show_value(v)}"
            level = [j for i in level for j in i]
        if not level or not all(_is_num(i) for i in level):
            return f"{expected}, got {show_value(v)}"
        if not all(self._in_bounds(i) for i in level):
            return f"expected numbers {self._bounds_text()}, got {show_value(v)}"
        return None

    def problem(self, v: Any) -> str | None:
        """Returns what is wrong with value `v`, or None when it is valid."""
        if v is None:
            return None if self.nullable or self.default is None else "a value is required"
        k = self.kind
        if k == "int":
            return self._number_problem(v, whole=True)
        if k == "float":
            return self._number_problem(v, whole=False)
        if k == "bool":
            return None if isinstance(v, bool) else f"expected true or false, got {show_value(v)}"
        if k in ("choice", "initializer"):
            if isinstance(v, (str, type(None))) and v in self.choices:
                return None
            shown = ", ".join("none" if c is None else c for c in self.choices)
            return f"expected one of {shown}; got {show_value(v)}"
        if k == "ints":
            items = [v] if _is_int(v) else v
            if not isinstance(items, (list, tuple)) or len(items) != (1 if _is_int(v) else self.length):
                return f"expected a whole number or a list of {self.length}, got {show_value(v)}"
            for item in items:
                if (p := self._number_problem(item, whole=True)) is not None:
                    return p
            return None
        if k == "shape":
            return _shape_problem(v, allow_none=self.any_size, allow_minus_one=self.one_free)
        if k == "axes":
            bounds = f" {self._bounds_text()}" if self.min is not None or self.max is not None else ""
            if self.single and not (_is_int(v) and self._in_bounds(v) and abs(v) <= INT_MAX):
                return f"expected one axis (a whole number{bounds}), got {show_value(v)}"
            if self.many and not isinstance(v, (list, tuple)):
                return f"expected a list of axes, e.g. [2, 1], got {show_value(v)}"
            items = [v] if _is_int(v) else v
            if not isinstance(items, (list, tuple)) or not items or not all(_is_int(i) for i in items):
                return f"expected an axis or a list of axes (whole numbers), got {show_value(v)}"
            if any(abs(i) > INT_MAX for i in items):  # 10**5000 would not even fit in the graph file
                return f"expected axes such as -1, 1 or [1, 2], got {show_value(v)}"
            if not all(self._in_bounds(i) for i in items):
                return f"expected axes{bounds}, got {show_value(v)}"
            if self.length and len(items) not in (1, self.length) and not _is_int(v):
                return f"expected 1 or {self.length} axes, got {show_value(v)}"
            if not self.length and len(set(items)) != len(items):
                return f"must not name an axis twice, got {show_value(v)}"
            return None
        if k == "range":
            items = [v] if _is_num(v) else v
            if not isinstance(items, (list, tuple)) or len(items) not in (1, 2) or not all(_is_num(i) for i in items):
                return f"expected a number or a pair [low, high], got {show_value(v)}"
            if any(not self._in_bounds(i) for i in items):
                return f"expected numbers {self._bounds_text()}, got {show_value(v)}"
            if len(items) == 2 and items[0] > items[1]:
                return f"expected [low, high] with low <= high, got {show_value(v)}"
            return None
        if k == "numbers":
            return self._numbers_problem(v)
        if k == "pad2d":
            return _pad2d_problem(v)
        if k == "regularizer":
            if not isinstance(v, dict) or not v or set(v) - {"l1", "l2"}:
                return f'expected {{"l1": x, "l2": y}} (either or both), got {show_value(v)}'
            for key, f in v.items():
                if not _is_num(f) or f < 0 or f > 1e3:
                    return f"expected {key} between 0 and 1000, got {show_value(f)}"
            return None
        if k == "layer":
            if not isinstance(v, dict) or not isinstance(v.get("type"), str):
                return f'expected {{"type": ..., "params": {{...}}}}, got {show_value(v)}'
            if v["type"] not in (self.layer_types or ()):
                return f"can wrap {', '.join(self.layer_types or ())}; got {show_value(v['type'])}"
            if set(v) - {"type", "params"} or not isinstance(v.get("params", {}), dict):
                return f'expected {{"type": ..., "params": {{...}}}}, got {show_value(v)}'
            return None
        raise AssertionError(f"unknown param kind {k}")  # a catalog bug, not user input

    # -- conversion -------------------------------------------------------
    def to_keras(self, v: Any) -> Any:
        """Converts a JSON value to the Keras constructor argument."""
        if v is None:
            return None
        if self.kind == "regularizer":
            import keras

            l1, l2 = float(v.get("l1", 0.0)), float(v.get("l2", 0.0))
            if l1 and l2:
                return keras.regularizers.L1L2(l1=l1, l2=l2)
            if l1:
                return keras.regularizers.L1(l1)
            return keras.regularizers.L2(l2) if l2 else None
        if self.kind == "layer":
            raise TypeError("wrapped layers are built by builder.model.build")
        return as_tuples(v)


def as_tuples(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(as_tuples(i) for i in v)
    return v


def _shape_problem(v: Any, allow_none: bool, allow_minus_one: bool) -> str | None:
    if not isinstance(v, (list, tuple)) or not v:
        return f"expected a non-empty list of sizes, e.g. [28, 28, 1], got {show_value(v)}"
    for d in v:
        if d is None and allow_none:
            continue
        if d == -1 and allow_minus_one and _is_int(d):
            continue
        if not _is_int(d) or d < 1 or d > INT_MAX:
            return f"every size must be a whole number >= 1, got {show_value(d)} in {show_value(v)}"
    if allow_minus_one and sum(1 for d in v if d == -1) > 1:
        return f"at most one size may be -1, got {show_value(v)}"
    return None


def _pad2d_problem(v: Any) -> str | None:
    msg = f"expected n, [rows, cols] or [[top, bottom], [left, right]] (whole numbers >= 0), got {show_value(v)}"
    if _is_int(v):
        return None if 0 <= v <= INT_MAX else msg
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        return msg
    if all(_is_int(i) and 0 <= i <= INT_MAX for i in v):
        return None
    if all(isinstance(p, (list, tuple)) and len(p) == 2 and all(_is_int(i) and 0 <= i <= INT_MAX for i in p) for p in v):
        return None
    return msg


def pad2d_pairs(v: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    """Normalizes a ZeroPadding2D/Cropping2D value to ((top, bottom), (left, right))."""
    if _is_int(v):
        return ((v, v), (v, v))
    if all(_is_int(i) for i in v):
        return ((v[0], v[0]), (v[1], v[1]))
    return (tuple(v[0]), tuple(v[1]))


def as_tuple(v: Any, n: int) -> tuple:
    """An int or a sequence as an n-tuple (Keras's own normalization)."""
    return tuple(v) if isinstance(v, (list, tuple)) else (v,) * n


# ---------------------------------------------------------------------------
# Parameter-count formulas. Each takes the input shapes (with the batch axis)
# and the effective params, and returns (text, count, non_trainable).
# ---------------------------------------------------------------------------
Formula = Callable[[list, dict], tuple[str, int, int]]


def _x(*factors: int) -> str:
    return "×".join(str(f) for f in factors)


def _with_bias(text: str, count: int, bias: int, use_bias: bool) -> tuple[str, int]:
    return (f"{text} + {bias}", count + bias) if use_bias else (text, count)


def _f_dense(shapes, p):
    n_in, units = shapes[0][-1], p["units"]
    text, count = _with_bias(_x(n_in, units), n_in * units, units, p["use_bias"])
    return text, count, 0


def _conv(rank: int, transpose: bool = False) -> Formula:
    def f(shapes, p):
        k = as_tuple(p["kernel_size"], rank)
        c_in, filters = shapes[0][-1], p["filters"]
        groups = 1 if transpose else p.get("groups", 1)
        per = c_in // groups
        count = math.prod(k) * per * filters
        text, count = _with_bias(_x(*k, per, filters), count, filters, p["use_bias"])
        return text, count, 0

    return f


def _f_separable(shapes, p):
    k = as_tuple(p["kernel_size"], 2)
    c, dm, filters = shapes[0][-1], p["depth_multiplier"], p["filters"]
    count = math.prod(k) * c * dm + c * dm * filters
    text, count = _with_bias(f"{_x(*k, c, dm)} + {_x(c * dm, filters)}", count, filters, p["use_bias"])
    return text, count, 0


def _f_depthwise(shapes, p):
    k = as_tuple(p["kernel_size"], 2)
    c, dm = shapes[0][-1], p["depth_multiplier"]
    text, count = _with_bias(_x(*k, c, dm), math.prod(k) * c * dm, c * dm, p["use_bias"])
    return text, count, 0


def _norm_channels(shapes, p) -> int:
    axes = p["axis"] if isinstance(p["axis"], (list, tuple)) else [p["axis"]]
    shape = shapes[0]
    return math.prod(shape[a] for a in axes)


def _f_batchnorm(shapes, p):
    c = _norm_channels(shapes, p)
    learned = (int(p["center"]) + int(p["scale"])) * c
    return f"{int(p['center']) + int(p['scale']) + 2}×{c}", learned + 2 * c, 2 * c


def _f_layernorm(shapes, p):
    c = _norm_channels(shapes, p)
    k = int(p["center"]) + int(p["scale"])
    return f"{k}×{c}", k * c, 0


def _f_prelu(shapes, p):
    dims = list(shapes[0][1:])
    for a in p.get("shared_axes") or ():
        dims[a - 1] = 1
    return _x(*dims), math.prod(dims), 0


def _rnn(gates: int, gate_bias: int) -> Formula:
    def f(shapes, p):
        n_in, u = shapes[0][-1], p["units"]
        core = u * (n_in + u)
        if p["use_bias"]:
            count = gates * core + gate_bias * gates * u
            bias = f"{gate_bias}×{u}" if gate_bias > 1 else str(u)
            text = f"{gates}×({u}×({n_in}+{u}) + {bias})" if gates > 1 else f"{u}×({n_in}+{u}) + {u}"
        else:
            count = gates * core
            text = f"{gates}×{u}×({n_in}+{u})" if gates > 1 else f"{u}×({n_in}+{u})"
        return text, count, 0

    return f


def _f_gru(shapes, p):
    return _rnn(3, 2 if p["reset_after"] else 1)(shapes, p)


def _f_embedding(shapes, p):
    return _x(p["input_dim"], p["output_dim"]), p["input_dim"] * p["output_dim"], 0


def _f_mha(shapes, p):
    q, v = shapes[0][-1], shapes[1][-1] if len(shapes) > 1 else shapes[0][-1]
    k = shapes[2][-1] if len(shapes) > 2 else v
    h, kd = p["num_heads"], p["key_dim"]
    vd = p["value_dim"] or kd
    out = q
    bias = int(p["use_bias"])
    count = h * (q * kd + k * kd + v * vd) + h * vd * out + bias * (h * (2 * kd + vd) + out)
    text = f"{h}×({q}×{kd} + {k}×{kd} + {v}×{vd}) + {h}×{vd}×{out}"
    if bias:
        text += f" + {h * (2 * kd + vd) + out}"
    return text, count, 0


def _f_attention(shapes, p):
    n = int(p["use_scale"]) + int(p["score_mode"] == "concat")
    return (f"{n} learned scale(s)", n, 0) if n else ("no weights", 0, 0)


def _f_normalization(shapes, p):
    """Given mean and variance are constants; else a mean and a variance per kept position, and Keras's `count`
    (one number, kept for older saved models), all non-trainable."""
    if p["mean"] is not None:
        return "no weights: mean and variance are given", 0, 0
    axes = p["axis"]
    kept = [] if axes is None else (list(axes) if isinstance(axes, (list, tuple)) else [axes])
    c = math.prod(shapes[0][a] for a in kept)
    return f"2×{c} + 1", 2 * c + 1, 2 * c + 1


def _f_layer_scale(shapes, p):
    return str(p["projection_dim"]), p["projection_dim"], 0


def _f_none(shapes, p):
    return "no weights", 0, 0


# ---------------------------------------------------------------------------
# Cost formulas: the arithmetic of ONE sample through a layer when the model
# predicts. Each takes the input shapes and the output shape (batch axis
# included) and the effective params, and returns a `Cost`.
#
# Conventions (shown to students, so they must stay simple and stated):
# - A MAC is one multiply-accumulate: a product added into a running sum, the
#   step of a dot product. Matrix products, convolutions, recurrent steps,
#   attention's QKᵀ and attention×V, Dot and resizing interpolation count MACs.
#   A FLOP count is about 2 × MACs.
# - Everything element-wise counts in `other_ops`, one op per operation per
#   element: bias additions, activation functions (one op per element whatever
#   their formula), merges (Add of n inputs: n-1 per element), pooling (one op
#   per window element read: MaxPooling's comparisons, AveragePooling's
#   additions), normalization (BatchNormalization at prediction time is a
#   folded scale and shift: 2 per element; LayerNormalization about 5 per
#   element plus 1 each for its scale and offset) and rescaling (2 per element).
# - Normalization and rescaling count 0 MACs: they scale single values and do
#   not sum products, and BatchNormalization usually folds into the layer before.
# - Layers that only move values (Flatten, Reshape, Concatenate, padding,
#   cropping, nearest upsampling), table lookups (Embedding) and layers that act
#   only while training (Dropout, noise, random augmentation) cost 0 and 0.
# ---------------------------------------------------------------------------
class UnknownSize(Exception):
    """A size the cost depends on is None: it is known only when the model runs."""


@dataclass(frozen=True)
class Cost:
    """The arithmetic of one sample through a layer.

    Args:
        macs: Multiply-accumulates, or None when a size is unknown until run time.
        other_ops: Element-wise operations that are not MACs, or None likewise.
        expr: How the main count is made, e.g. "30×30 positions × 3×3×3 × 32"
            (the MACs', or the other ops' when there are no MACs).
    """

    macs: int | None
    other_ops: int | None
    expr: str = ""

    @property
    def text(self) -> str:
        """The arithmetic for the inspector: "30×30 positions × 3×3×3 × 32 = 777,600 MACs"."""
        if self.macs is None or self.other_ops is None:
            return self.expr
        if self.macs:
            extra = f" (+ {self.other_ops:,} other ops)" if self.other_ops else ""
            return f"{self.expr} = {self.macs:,} MACs{extra}"
        if self.other_ops:
            return f"{self.expr} = {self.other_ops:,} other ops (0 MACs)"
        return self.expr


CostFormula = Callable[[list, tuple, dict], Cost]
UNKNOWN_TEXT = "unknown until the model runs: it depends on a size left open (None) in the input shape"


def _dim(shape, axis: int) -> int:
    if shape is None or shape[axis] is None:
        raise UnknownSize
    return shape[axis]


def _dims(shape, start: int = 1, stop: int | None = None) -> tuple[int, ...]:
    """The sizes shape[start:stop] (the batch axis is 0), all known."""
    if shape is None:
        raise UnknownSize
    dims = tuple(shape[start:stop])
    if any(d is None for d in dims):
        raise UnknownSize
    return dims


def _numel(shape) -> int:
    """Values in one sample."""
    return math.prod(_dims(shape))


def _many(dims: tuple, word: str) -> str:
    """'6×6 positions', '1 output'."""
    return f"{_x(*dims)} {word}{'' if math.prod(dims) == 1 else 's'}"


def _at(dims: tuple, word: str = "position") -> str:
    """'10 positions × ' (nothing for a single position)."""
    return f"{_many(dims, word)} × " if math.prod(dims) > 1 else ""


def _bias_act(out, p) -> int:
    """One op per output value for the bias addition and one for the activation, when the layer has them."""
    n = int(bool(p.get("use_bias"))) + int(p.get("activation") not in (None, "linear"))
    return n * _numel(out) if n else 0


def _c_dense(shapes, out, p):
    pos, d, u = _dims(shapes[0], 1, -1), _dim(shapes[0], -1), p["units"]
    return Cost(math.prod(pos) * d * u, _bias_act(out, p), f"{_at(pos)}{d} × {u}")


def _c_conv(rank: int, transpose: bool = False) -> CostFormula:
    """Output positions × kernel volume × input channels per group × filters. A transposed convolution
    multiplies each INPUT position by the whole kernel (it spreads every input value over a window)."""

    def f(shapes, out, p):
        k = as_tuple(p["kernel_size"], rank)
        c_in, filters = _dim(shapes[0], -1), p["filters"]
        per = c_in // (1 if transpose else p.get("groups", 1))
        pos = _dims(shapes[0] if transpose else out, 1, -1)
        word = "input position" if transpose else "position"
        macs = math.prod(pos) * math.prod(k) * per * filters
        return Cost(macs, _bias_act(out, p), f"{_many(pos, word)} × {_x(*k, per)} × {filters}")

    return f


def _c_separable(shapes, out, p):
    """Depthwise (kernel × channels × depth_multiplier) then pointwise (channels × depth_multiplier × filters)
    at every output position."""
    k = as_tuple(p["kernel_size"], 2)
    cd, filters = _dim(shapes[0], -1) * p["depth_multiplier"], p["filters"]
    pos = _dims(out, 1, -1)
    macs = math.prod(pos) * (math.prod(k) * cd + cd * filters)
    return Cost(macs, _bias_act(out, p), f"{_many(pos, 'position')} × ({_x(*k, cd)} + {_x(cd, filters)})")


def _c_depthwise(shapes, out, p):
    k = as_tuple(p["kernel_size"], 2)
    cd = _dim(shapes[0], -1) * p["depth_multiplier"]
    pos = _dims(out, 1, -1)
    return Cost(math.prod(pos) * math.prod(k) * cd, _bias_act(out, p), f"{_many(pos, 'position')} × {_x(*k)} × {cd}")


def _c_pool(rank: int) -> CostFormula:
    """One op per window value read, for every output value (as TensorFlow's profiler counts pooling)."""

    def f(shapes, out, p):
        window = as_tuple(p["pool_size"], rank)
        dims = _dims(out)
        return Cost(0, math.prod(dims) * math.prod(window), f"{_many(dims, 'output')} × {_x(*window)} window")

    return f


def _c_global_pool(shapes, out, p):
    dims = _dims(shapes[0])
    return Cost(0, math.prod(dims), f"{_many(dims, 'input')} × 1")


def _c_elementwise(ops: int) -> CostFormula:
    """`ops` element-wise operations per output value (activations: 1; a scale and a shift: 2)."""

    def f(shapes, out, p):
        dims = _dims(out)
        return Cost(0, math.prod(dims) * ops, f"{_many(dims, 'value')} × {ops}")

    return f


def _c_activation(shapes, out, p):
    if p["activation"] == "linear":
        return Cost(0, 0, "no arithmetic: 'linear' passes values through")
    return _c_elementwise(1)(shapes, out, p)


def _c_layernorm(shapes, out, p):
    """Per value: add to the mean, subtract it, square and add to the variance (2), divide by the spread;
    then the learned scale and offset if any."""
    per = 5 + int(p["scale"]) + int(p["center"])
    return _c_elementwise(per)(shapes, out, p)


def _c_merge(extra: int = 0) -> CostFormula:
    """n inputs: n-1 operations per output value (Add: additions, Maximum: comparisons), plus `extra`
    (Average's division)."""

    def f(shapes, out, p):
        dims, n = _dims(out), len(shapes) - 1 + extra
        return Cost(0, math.prod(dims) * n, f"{_many(dims, 'value')} × {n}")

    return f


def _c_dot(shapes, out, p):
    """Every output value is a dot product over the contracted axis; normalize adds an L2 normalization of
    both inputs (square and add, then scale: 3 ops per input value)."""
    axes = p["axes"]
    first = axes if isinstance(axes, int) else axes[0]
    k, dims = _dim(shapes[0], first), _dims(out)
    other = 3 * (_numel(shapes[0]) + _numel(shapes[1])) if p["normalize"] else 0
    return Cost(math.prod(dims) * k, other, f"{_many(dims, 'output')} × {k}")


def _c_rnn(gates: int, update: int) -> CostFormula:
    """Per step: `gates` matrix products of [input, state] ((input + units) × units each). Other ops per
    step and unit: for each gate, adding the input and state parts, its bias(es) and its activation;
    then `update` ops to make the new state (LSTM: f·c + i·g, tanh(c), o·tanh(c); GRU: r·h, z·h + (1-z)·h̃)."""

    def f(shapes, out, p):
        steps, n_in, u = _dim(shapes[0], 1), _dim(shapes[0], -1), p["units"]
        biases = (2 if p.get("reset_after") else 1) * int(p["use_bias"])  # GRU's reset_after has two biases
        per_unit = gates * (2 + biases) + update
        g = f"{gates}×" if gates > 1 else ""
        return Cost(steps * gates * (n_in + u) * u, steps * per_unit * u, f"{_many((steps,), 'step')} × {g}({n_in}+{u})×{u}")

    return f


def _c_bidirectional(shapes, out, p):
    """Twice the wrapped layer, plus merging both directions (sum, mul: 1 op per value; ave: 2; concat: 0)."""
    merge = p["merge_mode"]
    inner_out = out
    if merge == "concat" and out is not None and out[-1] is not None:
        inner_out = tuple(out[:-1]) + (out[-1] // 2,)
    c = LAYERS[p["layer"]["type"]].count_cost(shapes, inner_out, p["layer"].get("params", {}))
    if c.macs is None:
        raise UnknownSize
    merging = {"sum": 1, "mul": 1, "ave": 2}.get(merge, 0)
    other = 2 * c.other_ops + (merging * _numel(out) if merging else 0)
    return Cost(2 * c.macs, other, f"2 directions × ({c.expr})")


def _c_time_distributed(shapes, out, p):
    """The wrapped layer's cost on one step, times the steps."""
    steps = _dim(shapes[0], 1)
    inner = LAYERS[p["layer"]["type"]]
    inner_shapes = [(s[0],) + tuple(s[2:]) for s in shapes]
    inner_out = None if out is None else (out[0],) + tuple(out[2:])
    c = inner.count_cost(inner_shapes, inner_out, p["layer"].get("params", {}))
    if c.macs is None:
        raise UnknownSize
    if not (c.macs or c.other_ops):
        return c
    return Cost(steps * c.macs, steps * c.other_ops, f"{_many((steps,), 'step')} × ({c.expr})")


def _c_mha(shapes, out, p):
    """The query, key and value projections, the scores QKᵀ and the weighted sum of values per head, and the
    output projection. Other ops: biases, scaling the query by 1/√key_dim, softmax over the scores."""
    qs, vs = shapes[0], shapes[1]
    ks = shapes[2] if len(shapes) > 2 else vs
    tq, q = math.prod(_dims(qs, 1, -1)), _dim(qs, -1)
    tv, v = math.prod(_dims(vs, 1, -1)), _dim(vs, -1)
    tk, k = math.prod(_dims(ks, 1, -1)), _dim(ks, -1)
    h, kd = p["num_heads"], p["key_dim"]
    vd = p["value_dim"] or kd
    o = _dim(out, -1)
    parts = [
        ("Q", (tq, q, h * kd)), ("K", (tk, k, h * kd)), ("V", (tv, v, h * vd)),
        ("QKᵀ", (h, tq, tk, kd)), ("AV", (h, tq, tk, vd)), ("out", (tq, h * vd, o)),
    ]
    macs = sum(math.prod(f) for _, f in parts)
    bias = (tq * h * kd + tk * h * kd + tv * h * vd + tq * o) if p["use_bias"] else 0
    other = bias + tq * h * kd + h * tq * tk
    return Cost(macs, other, " + ".join(f"{name} {_x(*f)}" for name, f in parts))


def _c_attention(shapes, out, p):
    """dot: scores QKᵀ (query steps × value steps × features) and the weighted sum of values. concat: the
    scores are sums of tanh(q + k), element-wise work (3 ops per query step, value step and feature, 4 with
    use_scale), so only the weighted sum of values counts MACs. Softmax and the score weight: 1 op per score."""
    qs, vs = shapes[0], shapes[1]
    tq, d = _dim(qs, 1), _dim(qs, -1)
    tv, dv = _dim(vs, 1), _dim(vs, -1)
    scores, scale = tq * tv, int(p["use_scale"])
    if p["score_mode"] == "concat":
        return Cost(scores * dv, scores * d * (3 + scale) + 2 * scores, f"AV {_x(tq, tv, dv)}")
    return Cost(scores * d + scores * dv, scores * (1 + scale), f"QKᵀ {_x(tq, tv, d)} + AV {_x(tq, tv, dv)}")


# Values each output of a resize reads (2 per axis for bilinear, 4 for bicubic, 6 and 10 for Lanczos; nearest
# and area (by whole factors) copy one value).
_RESIZE_TAPS = {"nearest": 0, "area": 0, "bilinear": 4, "bicubic": 16, "lanczos3": 36, "lanczos5": 100}


def _c_upsampling(shapes, out, p):
    taps = _RESIZE_TAPS[p["interpolation"]]
    if not taps:
        return _c_moves(shapes, out, p)
    dims = _dims(out)
    return Cost(math.prod(dims) * taps, 0, f"{_many(dims, 'output')} × {taps} taps")


def _c_moves(shapes, out, p):
    return Cost(0, 0, "no arithmetic: it only moves or copies values")


def _c_training_only(shapes, out, p):
    return Cost(0, 0, "no arithmetic when predicting: it passes its input through (it acts only while training)")


def _c_lookup(shapes, out, p):
    return Cost(0, 0, "no arithmetic: it looks up one row of its table per id")


def _c_input(shapes, out, p):
    return Cost(0, 0, "no arithmetic: the data enters here")


# ---------------------------------------------------------------------------
# LayerSpec
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerSpec:
    """Everything LayerCanvas knows about one Keras layer type.

    Args:
        type: The Keras class name (`Dense`), or `Input`.
        category: Palette group.
        help: One-line explanation.
        params: The constructor kwargs offered.
        arity: (min, max) number of inputs; max None = any number.
        formula: Parameter count from input shapes, with its arithmetic.
        cost: The arithmetic of one sample through the layer (`Cost`: MACs and
            other ops) from input shapes, output shape and params; every
            layer has one (see the conventions above `Cost`).
        explain: Two to four plain sentences for students: what the layer
            does and when to use it.
        key_params: Shown on the canvas node.
        input_rank: Allowed input ranks, batch axis included (None = any).
        rank_hint: What the input must look like, for messages.
        call_style: `single` (layer(x)), `list` (layer([a, b])) or
            `positional` (layer(a, b, c)).
        merge: `same` (shapes must be equal), `concat`, or None.
        prefix: Stem of fresh node ids (`dense`, `dense_1`, ...).
        wrapper: The `layer` param holds a wrapped layer.
        is_input: Declares a model input.
        flat_hint: Warn when it gets images (rank >= 4): it acts on the last
            axis only, which is rarely what a classifier head wants.
        per_step: A wrapper whose layer sees one time step (TimeDistributed).
        applies: The activation the layer itself is (Softmax is `softmax`),
            for loss suggestions when a model ends in it.
        any_shape: The layer keeps nothing that depends on its input's size,
            so an edit upstream may call it again on another size instead of
            making a new one (each new random layer costs TensorFlow about
            35 kB that it never gives back).
        passthrough: Outside training the layer returns its input unchanged
            (dropout, noise), so a model ending in it outputs what the layer
            before it does (loss suggestions look through it).
        ports: Names of the input ports, in port order, for layers whose
            inputs mean different things (attention: query, value, key).
        module: Where Keras defines the class: `keras.layers`, or, for the
            layers that a keras.applications network defines for itself
            (ConvNeXt's LayerScale, InceptionResNetV2's CustomScaleLayer),
            that network's module. These are Keras's own classes, so a model
            made with them saves and reloads in plain Keras (safe mode) as
            the application does; generated code imports them from there.
        adapts: The layer's statistics can be computed from data (Keras's
            `adapt`; builder.data.adapt): the inspector offers it.
        inference_when_frozen: Frozen (trainable=False), Keras runs the layer
            in inference mode: it uses its moving statistics and stops
            updating them (BatchNormalization). Fine-tuning keeps such layers
            frozen when it unfreezes the base (builder.train.finetune).
    """

    type: str
    category: str
    help: str
    params: tuple[ParamSpec, ...] = ()
    arity: tuple[int, int | None] = (1, 1)
    formula: Formula = _f_none
    key_params: tuple[str, ...] = ()
    input_rank: tuple[int, ...] | None = None
    rank_hint: str = ""
    call_style: str = "single"
    merge: str | None = None
    prefix: str = ""
    wrapper: bool = False
    is_input: bool = False
    flat_hint: bool = False
    per_step: bool = False
    applies: str | None = None
    any_shape: bool = False
    passthrough: bool = False
    ports: tuple[str, ...] = ()
    cost: CostFormula | None = None
    explain: str = ""
    module: str = DEFAULT_MODULE
    adapts: bool = False
    inference_when_frozen: bool = False
    param_index: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        self.param_index.update({p.name: p for p in self.params})
        if not self.prefix:
            object.__setattr__(self, "prefix", to_snake_case(self.type))

    def param(self, name: str) -> ParamSpec | None:
        return self.param_index.get(name)

    def keras_class(self) -> type:
        """The Keras class of this layer (imports Keras).

        A class outside `keras.layers` is also added to Keras's custom objects, because a legacy `.h5` file
        names it by its class name alone.
        """
        import importlib

        cls = getattr(importlib.import_module(self.module), self.type)
        if self.module != DEFAULT_MODULE:
            import keras

            keras.saving.get_custom_objects().setdefault(self.type, cls)
        return cls

    def port_labels(self, n_inputs: int) -> list[str]:
        """The input handles the canvas draws for a node with `n_inputs` inputs connected.

        Returns:
            The named ports (up to the most inputs the layer takes) when the
            layer has them; for other layers that take several inputs, "0",
            "1", ...: one more than connected (a free one to connect to), at
            least the fewest the layer needs, at most the most it takes; for a
            layer with one input (or none), [] (one plain handle, or none).
        """
        lo, hi = self.arity
        if self.ports:
            return list(self.ports[:hi] if hi is not None else self.ports)
        if hi is not None and hi <= 1:
            return []
        n = max(lo, max(int(n_inputs), 0) + 1)
        if hi is not None:
            n = min(n, hi)
        return [str(i) for i in range(n)]

    def effective(self, params: dict) -> dict:
        """Params with Keras defaults filled in (required ones left missing)."""
        out = {p.name: p.default for p in self.params if not p.required}
        out.update(params)
        return out

    def count(self, shapes: list, params: dict) -> tuple[str, int, int]:
        """Returns (arithmetic, total, non_trainable) for these input shapes."""
        p = self.effective(params)
        if self.wrapper:
            inner = LAYERS[p["layer"]["type"]]
            inner_params = p["layer"].get("params", {})
            if self.per_step:
                inner_shapes = [(s[0],) + tuple(s[2:]) for s in shapes]
                return inner.count(inner_shapes, inner_params)
            text, n, nt = inner.count(shapes, inner_params)
            return f"2×({text})", 2 * n, 2 * nt
        text, n, nt = self.formula(shapes, p)
        if any(op in text for op in "×+"):
            text = f"{text} = {n:,}"
        if nt:
            text += f" ({nt:,} non-trainable)"
        return text, n, nt

    def count_cost(self, shapes: list, output_shape: tuple | None, params: dict) -> Cost:
        """The arithmetic of one sample through the layer when the model predicts.

        Args:
            shapes: Input shapes, batch axis included, in port order.
            output_shape: The output shape, batch axis included.
            params: The node's params (defaults are filled in).

        Returns:
            A `Cost`; its counts are None when they depend on a size that is
            None in the shapes (a sequence of any length).
        """
        out = None if output_shape is None else tuple(output_shape)
        try:
            return self.cost(list(shapes), out, self.effective(params))
        except UnknownSize:
            return Cost(None, None, UNKNOWN_TEXT)


def inner_layer_name(node_id: str, inner_type: str) -> str:
    """The explicit name of a wrapped layer (Keras would auto-name it per thread)."""
    return f"{node_id}_{LAYERS[inner_type].prefix}"


def to_snake_case(name: str) -> str:
    """Keras's own snake_case of a class name (`MaxPooling2D` -> `max_pooling2d`)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


# ---------------------------------------------------------------------------
# Param groups shared by many layers
# ---------------------------------------------------------------------------
def P(name, kind, default=REQUIRED, help="", **kw) -> ParamSpec:
    if kind == "initializer":
        kw["choices"] = tuple(dict.fromkeys(INITIALIZERS + ((default,) if isinstance(default, str) else ())))
    return ParamSpec(name, kind, default, help, **kw)


def _act(default=None, help="Activation applied to the output."):
    return P("activation", "choice", default, help, choices=ACTIVATIONS)


def _reg(name, what):
    return P(name, "regularizer", None, f"L1/L2 penalty on the {what}.", nullable=True, advanced=True)


def _weights(*kernels: tuple[str, str]):
    """Initializer and regularizer params for each (kernel, default initializer), then the bias's."""
    kernels = kernels or (("kernel", "glorot_uniform"),)
    inits = [P(f"{k}_initializer", "initializer", d, f"How the {k} weights start.", advanced=True) for k, d in kernels]
    regs = [_reg(f"{k}_regularizer", f"{k} weights") for k, _ in kernels]
    return (
        *inits,
        P("bias_initializer", "initializer", "zeros", "How the bias starts.", advanced=True),
        *regs,
        _reg("bias_regularizer", "bias"),
        _reg("activity_regularizer", "layer output"),
    )


USE_BIAS = P("use_bias", "bool", True, "Add a learned bias.")
SEED = P("seed", "int", None, "Random seed, for repeatable runs.", min=0, max=INT_MAX, nullable=True, advanced=True)


def _rate(help="Fraction of inputs dropped during training."):
    return P("rate", "float", REQUIRED, help, min=0.0, max=1.0, max_exclusive=True)


def _conv_params(rank: int, filters=True, groups=True, depth=False, transpose=False):
    one = 1 if rank == 1 else (1,) * rank
    out = []
    if filters:
        out.append(P("filters", "int", REQUIRED, "Number of output channels (feature maps).", min=1, max=INT_MAX))
    out += [
        P("kernel_size", "ints", REQUIRED, "Size of the sliding window.", min=1, max=INT_MAX, length=rank),
        P("strides", "ints", one, "Step of the window.", min=1, max=INT_MAX, length=rank),
        P("padding", "choice", "valid", "'same' keeps the size; 'valid' shrinks it.", choices=PADDINGS),
    ]
    if depth:
        out.append(P("depth_multiplier", "int", 1, "Output channels per input channel.", min=1, max=INT_MAX))
    out.append(P("dilation_rate", "ints", one, "Spacing between kernel taps.", min=1, max=INT_MAX, length=rank))
    if groups:
        out.append(P("groups", "int", 1, "Split channels into groups (filters and inputs must divide).", min=1, max=INT_MAX, advanced=True))
    out += [_act(), USE_BIAS]
    return tuple(out)


def _pool_params(rank: int, default_pool):
    return (
        P("pool_size", "ints", default_pool, "Size of the pooling window.", min=1, max=INT_MAX, length=rank),
        P("strides", "ints", None, "Step of the window (default: the pool size).", min=1, max=INT_MAX, length=rank, nullable=True),
        P("padding", "choice", "valid", "'same' keeps the size; 'valid' shrinks it.", choices=PADDINGS),
    )


def _rnn_params(gates: bool = True):
    out = [
        P("units", "int", REQUIRED, "Size of the hidden state.", min=1, max=INT_MAX),
        _act("tanh", "Activation of the state."),
    ]
    if gates:
        out.append(P("recurrent_activation", "choice", "sigmoid", "Activation of the gates.", choices=ACTIVATIONS, advanced=True))
    out += [
        USE_BIAS,
        P("return_sequences", "bool", False, "Output every time step (needed before another recurrent layer)."),
        P("go_backwards", "bool", False, "Read the sequence backwards.", advanced=True),
        P("dropout", "float", 0.0, "Dropout on the inputs.", min=0.0, max=1.0, max_exclusive=True),
        P("recurrent_dropout", "float", 0.0, "Dropout on the state.", min=0.0, max=1.0, max_exclusive=True, advanced=True),
        *_weights(("kernel", "glorot_uniform"), ("recurrent", "orthogonal")),
        SEED,
    ]
    return tuple(out)


def _norm_params(axis_help: str, *extra: ParamSpec, single_axis: bool = False):
    return (
        P("axis", "axes", -1, axis_help, single=single_axis),
        *extra,
        P("epsilon", "float", 0.001, "Small number added to the variance.", min=0.0, min_exclusive=True, max=1.0),
        P("center", "bool", True, "Learn an offset (beta)."),
        P("scale", "bool", True, "Learn a scale (gamma)."),
        P("beta_initializer", "initializer", "zeros", "How beta starts.", advanced=True),
        P("gamma_initializer", "initializer", "ones", "How gamma starts.", advanced=True),
        _reg("beta_regularizer", "offset"),
        _reg("gamma_regularizer", "scale"),
    )


def _random_image_params():
    return (
        P("fill_mode", "choice", "reflect", "How to fill points outside the image.", choices=FILL_MODES),
        P("interpolation", "choice", "bilinear", "Resampling method.", choices=INTERPOLATIONS),
        P("fill_value", "float", 0.0, "Fill value for fill_mode='constant'.", advanced=True),
        SEED,
    )


IMG = "(batch, height, width, channels), e.g. images"
SEQ = "(batch, steps, features), i.e. a sequence"
RNN_TYPES = ("LSTM", "GRU", "SimpleRNN")

_SPECS: list[LayerSpec] = [
    # -- input ---------------------------------------------------------------
    LayerSpec(
        "Input", "input", "A model input: the shape of one sample, without the batch axis.",
        (
            P("shape", "shape", REQUIRED, "Shape of one sample, e.g. [28, 28, 1]; null for any length.", any_size=True),
            P("dtype", "choice", None, "Data type (default float32; int32 for token ids).", choices=(None,) + DTYPES),
        ),
        arity=(0, 0), key_params=("shape",), prefix="input", is_input=True,
        cost=_c_input,
        explain=(
            "Says what one example looks like when it enters the model, such as a 28×28 image with 1 colour "
            "channel. Every model starts with at least one Input. The batch size (how many examples go in at "
            "once) is not part of the shape."
        ),
    ),
    # -- core ----------------------------------------------------------------
    LayerSpec(
        "Dense", "core", "Fully connected layer: every input feeds every unit.",
        (P("units", "int", REQUIRED, "Number of output units.", min=1, max=INT_MAX), _act(), USE_BIAS) + _weights(),
        formula=_f_dense, key_params=("units", "activation"), input_rank=tuple(range(2, 9)),
        rank_hint="(batch, features)", flat_hint=True,
        cost=_c_dense,
        explain=(
            "Each output unit multiplies every input number by its own learned weight, adds them up with a bias "
            "and applies the activation. Use it to combine features, and as the last layer that makes the "
            "prediction. It expects a flat list of features, so put Flatten or global pooling before it when the "
            "input is an image."
        ),
    ),
    LayerSpec(
        "Activation", "core", "Applies an activation function.",
        (P("activation", "choice", REQUIRED, "The function to apply.", choices=ACTIVATIONS[1:]),),
        key_params=("activation",),
        cost=_c_activation,
        explain=(
            "Applies a fixed function such as relu or sigmoid to every number on its own; nothing is learned. "
            "These bends (non-linearity) let a network learn more than straight-line relations. Most layers can "
            "apply an activation themselves, so use this one when you want it as a separate step."
        ),
    ),
    LayerSpec("Dropout", "core", "Randomly zeroes a fraction of inputs while training.",
              (_rate(), P("noise_shape", "shape", None, "Shape of the dropout mask, batch axis first, e.g. [null, 1, 1, "
                                                          "64] to drop whole channels; none: each value.",
                          nullable=True, any_size=True, advanced=True), SEED), any_shape=True,
              passthrough=True, key_params=("rate",),
              cost=_c_training_only,
              explain=(
                  "While training, it sets a random fraction of its inputs to zero and scales the rest up, so the "
                  "network cannot rely on any single feature. This fights overfitting: memorizing the training data "
                  "instead of learning general patterns. When the model predicts, it does nothing."
              )),
    LayerSpec("Flatten", "core", "Flattens each sample to one vector.", input_rank=tuple(range(2, 9)), rank_hint="at least (batch, features)",
              cost=_c_moves,
              explain=(
                  "Unrolls each example into one long list of numbers, so a 4×4×2 block becomes 32 values. Nothing is "
                  "learned or computed. Use it between image layers and Dense layers."
              )),
    LayerSpec(
        "Reshape", "core", "Reshapes each sample (one size may be -1).",
        (P("target_shape", "shape", REQUIRED, "New shape without the batch axis, e.g. [28, 28, 1].", one_free=True),),
        key_params=("target_shape",),
        cost=_c_moves,
        explain=(
            "Arranges the numbers of each example into a new shape, such as 12 values into 3 rows of 4. The total "
            "number of values must stay the same, and one size may be -1 to have it worked out for you. Nothing "
            "is learned."
        ),
    ),
    LayerSpec(
        "Permute", "core", "Reorders the axes of each sample.",
        (P("dims", "axes", REQUIRED, "New order of the axes, starting at 1, e.g. [2, 1].", many=True, min=1),),
        key_params=("dims",),
        cost=_c_moves,
        explain=(
            "Swaps the order of the axes of each example, for example turning (time, features) into (features, "
            "time). The values themselves do not change. Use it when the next layer expects the axes in another "
            "order."
        ),
    ),
    LayerSpec(
        "RepeatVector", "core", "Repeats a vector n times to make a sequence.",
        (P("n", "int", REQUIRED, "Number of repetitions.", min=1, max=INT_MAX),),
        key_params=("n",), input_rank=(2,), rank_hint="(batch, features)",
        cost=_c_moves,
        explain=(
            "Copies one vector several times to make a sequence of identical steps. Sequence-to-sequence models "
            "use it to feed one summary vector to every step of a recurrent decoder. Nothing is learned."
        ),
    ),
    LayerSpec(
        "Rescaling", "core", "Multiplies by scale and adds offset (e.g. 1/255 for pixels).",
        (P("scale", "float", REQUIRED, "Multiplier, e.g. 0.00392 (1/255)."), P("offset", "float", 0.0, "Added after scaling.")),
        key_params=("scale",),
        cost=_c_elementwise(2),
        explain=(
            "Multiplies every input by a fixed number and adds a fixed offset, such as 1/255 to turn pixel values "
            "from 0–255 into 0–1. Put it right after the Input: small numbers make training easier. Nothing is "
            "learned."
        ),
    ),
    # -- normalization -------------------------------------------------------
    LayerSpec(
        "BatchNormalization", "normalization", "Normalizes each channel over the batch; keeps moving statistics.",
        _norm_params("Channel axis.", P("momentum", "float", 0.99, "Momentum of the moving averages.", min=0.0, max=1.0),
                     single_axis=True),
        formula=_f_batchnorm,
        cost=_c_elementwise(2), inference_when_frozen=True,
        explain=(
            "Rescales each channel so its values have a mean near 0 and a spread near 1, using the statistics of "
            "the batch while training and running averages when predicting. This keeps the numbers in a healthy "
            "range, so deep networks train faster and more stably. It usually goes right after a convolution or "
            "Dense layer."
        ),
    ),
    LayerSpec(
        "LayerNormalization", "normalization", "Normalizes each sample over its features.",
        _norm_params("Axis or axes to normalize."),
        formula=_f_layernorm,
        cost=_c_layernorm,
        explain=(
            "Rescales the features of each example on its own so they have a mean of 0 and a spread of 1, then "
            "applies a learned scale and offset. Unlike batch normalization, it does not depend on the other "
            "examples in the batch. It is the usual choice in transformers and recurrent networks."
        ),
    ),
    LayerSpec(
        "Normalization", "normalization", "Subtracts a mean and divides by the standard deviation (given, or adapted).",
        (
            P("axis", "axes", -1, "Axis or axes with their own mean and variance; none: one for all values.",
              nullable=True),
            P("mean", "numbers", None, "Mean per channel, e.g. 123.7, 116.3, 103.5; none: adapted from data.",
              nullable=True),
            P("variance", "numbers", None, "Variance per channel, the same shape as mean; none: adapted.",
              nullable=True, min=0.0),
            P("invert", "bool", False, "Undo a normalization instead: x × √variance + mean."),
        ),
        formula=_f_normalization, key_params=("axis",),
        cost=_c_elementwise(2), adapts=True,
        explain=(
            "Standardizes its input with fixed statistics: it subtracts a mean and divides by the standard "
            "deviation, so features of very different sizes become comparable. The mean and variance are given, "
            "or computed once from the training data (adapt) and kept as non-trainable weights. EfficientNet and "
            "ConvNeXt start with it to scale the pixels."
        ),
    ),
    LayerSpec(
        "LayerScale", "normalization", "Multiplies each channel by a learned scale (ConvNeXt).",
        (
            P("init_values", "float", REQUIRED, "Starting value of every scale, e.g. 1e-6."),
            P("projection_dim", "int", REQUIRED, "Number of scales: the channels of the input (last axis).",
              min=1, max=INT_MAX),
        ),
        formula=_f_layer_scale, key_params=("projection_dim",),
        cost=_c_elementwise(1),
        module="keras.src.applications.convnext",
        explain=(
            "Multiplies each channel by its own learned number, which starts very small (1e-6 in ConvNeXt). A "
            "block whose output is added back to its input then starts as almost nothing, which keeps very deep "
            "networks stable early in training. Its projection_dim must equal the number of channels."
        ),
    ),
    # -- convolution -----------------------------------------------------------
    LayerSpec(
        "Conv1D", "convolution", "1-D convolution over a sequence (time series, text).",
        _conv_params(1) + _weights(), formula=_conv(1), key_params=("filters", "kernel_size", "activation"),
        input_rank=(3,), rank_hint=SEQ,
        cost=_c_conv(1),
        explain=(
            "Slides small learned filters along a sequence and, at each position, computes a weighted sum of a "
            "few neighbouring steps. Each filter learns to spot one local pattern, such as a rise in a time "
            "series or a short phrase in a text. Use it on sequences shaped (steps, features)."
        ),
    ),
    LayerSpec(
        "Conv2D", "convolution", "2-D convolution over images.",
        _conv_params(2) + _weights(), formula=_conv(2), key_params=("filters", "kernel_size", "activation"),
        input_rank=(4,), rank_hint=IMG,
        cost=_c_conv(2),
        explain=(
            "Slides small learned filters (such as 3×3 patches) across an image and computes a weighted sum at "
            "every position. Each filter becomes a detector for a local pattern such as an edge or a texture; its "
            "outputs are called feature maps. It is the main building block of image models."
        ),
    ),
    LayerSpec(
        "Conv3D", "convolution", "3-D convolution over volumes or video.",
        _conv_params(3) + _weights(), formula=_conv(3), key_params=("filters", "kernel_size", "activation"),
        input_rank=(5,), rank_hint="(batch, depth, height, width, channels)",
        cost=_c_conv(3),
        explain=(
            "Slides small learned 3-D filters through a volume, such as a medical scan or a video (frames × "
            "height × width). Each filter detects a local pattern in space, or in space and time. It costs much "
            "more than Conv2D, so keep inputs and filters small."
        ),
    ),
    LayerSpec(
        "SeparableConv2D", "convolution", "Depthwise then pointwise convolution: fewer weights than Conv2D.",
        _conv_params(2, groups=False, depth=True)
        + _weights(("depthwise", "glorot_uniform"), ("pointwise", "glorot_uniform")),
        formula=_f_separable, key_params=("filters", "kernel_size", "activation"), input_rank=(4,), rank_hint=IMG,
        cost=_c_separable,
        explain=(
            "Does a convolution in two cheaper steps: first one small filter per channel looks at space, then a "
            "1×1 convolution mixes the channels. It gives results close to Conv2D with far fewer weights and "
            "calculations. Mobile-friendly models such as Xception and MobileNet are built from it."
        ),
    ),
    LayerSpec(
        "DepthwiseConv2D", "convolution", "Convolves each channel on its own.",
        _conv_params(2, filters=False, groups=False, depth=True) + _weights(("depthwise", "glorot_uniform")),
        formula=_f_depthwise, key_params=("kernel_size", "depth_multiplier"), input_rank=(4,), rank_hint=IMG,
        cost=_c_depthwise,
        explain=(
            "Applies one small spatial filter to each channel separately, without mixing the channels. It is very "
            "cheap, and is usually followed by a 1×1 Conv2D that mixes the channels. Together they form the "
            "blocks of MobileNet."
        ),
    ),
    LayerSpec(
        "Conv2DTranspose", "convolution", "Transposed convolution: learns to upsample images.",
        _conv_params(2, groups=False) + _weights(), formula=_conv(2, transpose=True),
        key_params=("filters", "kernel_size", "strides"), input_rank=(4,), rank_hint=IMG,
        cost=_c_conv(2, transpose=True),
        explain=(
            "Works like a convolution run backwards: it spreads each input pixel over a larger output area with "
            "learned filters, so strides of 2 double the image size. Use it to enlarge images, as in the decoder "
            "of an autoencoder or a segmentation network. Unlike UpSampling2D, it learns how to enlarge."
        ),
    ),
    # -- pooling ---------------------------------------------------------------
    LayerSpec("MaxPooling1D", "pooling", "Keeps the largest value in each window of a sequence.", _pool_params(1, 2),
              key_params=("pool_size",), input_rank=(3,), rank_hint=SEQ,
              cost=_c_pool(1),
              explain=(
                  "Splits the sequence into small windows and keeps only the largest value of each. This shortens the "
                  "sequence and keeps the strongest signals, so later layers see a wider span. Nothing is learned."
              )),
    LayerSpec("MaxPooling2D", "pooling", "Keeps the largest value in each window of an image.", _pool_params(2, (2, 2)),
              key_params=("pool_size",), input_rank=(4,), rank_hint=IMG,
              cost=_c_pool(2),
              explain=(
                  "Splits each feature map into small windows (2×2 by default) and keeps only the largest value of "
                  "each. This halves the height and width, keeps the strongest responses and makes the model less "
                  "sensitive to small shifts. Nothing is learned."
              )),
    LayerSpec("AveragePooling1D", "pooling", "Averages each window of a sequence.", _pool_params(1, REQUIRED),
              key_params=("pool_size",), input_rank=(3,), rank_hint=SEQ,
              cost=_c_pool(1),
              explain=(
                  "Splits the sequence into small windows and replaces each window by its average. This shortens the "
                  "sequence and smooths out noise. Nothing is learned."
              )),
    LayerSpec("AveragePooling2D", "pooling", "Averages each window of an image.", _pool_params(2, REQUIRED),
              key_params=("pool_size",), input_rank=(4,), rank_hint=IMG,
              cost=_c_pool(2),
              explain=(
                  "Splits each feature map into small windows and replaces each window by its average value. This "
                  "shrinks the image while smoothing it, as the classic LeNet-5 does. Nothing is learned."
              )),
    *[
        LayerSpec(
            f"Global{kind}Pooling{d}D", "pooling",
            f"Takes the {word} over all {'steps' if d == 1 else 'positions'}: one value per channel.",
            (P("keepdims", "bool", False, "Keep the reduced axes with size 1."),),
            input_rank=(d + 2,), rank_hint=SEQ if d == 1 else IMG, cost=_c_global_pool, explain=explain,
        )
        for kind, word, d, explain in (
            ("Max", "maximum", 1, (
                "Keeps the largest value of each channel over the whole sequence, giving one number per channel. "
                "It tells whether a pattern appeared anywhere, and it works for sequences of any length. Use it "
                "before the Dense layers of a classifier."
            )),
            ("Max", "maximum", 2, (
                "Keeps the largest value of each feature map over the whole image, giving one number per channel. "
                "It tells whether a pattern appeared anywhere in the image. It can replace Flatten before a "
                "classifier head, and has no weights."
            )),
            ("Average", "mean", 1, (
                "Averages each channel over all steps of the sequence, giving one number per channel. It "
                "summarizes a sequence of any length in a vector of fixed size. Use it before the Dense layers of "
                "a classifier."
            )),
            ("Average", "mean", 2, (
                "Averages each feature map over the whole image, giving one number per channel. Modern CNNs such "
                "as ResNet use it instead of Flatten before the classifier, because it needs no weights and works "
                "with any image size."
            )),
        )
    ],
    # -- reshaping -------------------------------------------------------------
    LayerSpec(
        "UpSampling2D", "reshaping", "Repeats rows and columns to enlarge an image.",
        (
            P("size", "ints", (2, 2), "Factors for rows and columns.", min=1, max=INT_MAX, length=2),
            P("interpolation", "choice", "nearest", "Resampling method.", choices=("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5", "area")),
        ),
        key_params=("size",), input_rank=(4,), rank_hint=IMG,
        cost=_c_upsampling,
        explain=(
            "Enlarges an image by repeating each row and column, or by interpolating between neighbouring pixels. "
            "It has no weights, so it makes the image bigger but not sharper. Use it in decoders, often followed "
            "by a Conv2D that learns to fill in detail."
        ),
    ),
    LayerSpec(
        "Resizing", "reshaping", "Resizes images to a fixed height and width.",
        (
            P("height", "int", REQUIRED, "Output height in pixels.", min=1, max=INT_MAX),
            P("width", "int", REQUIRED, "Output width in pixels.", min=1, max=INT_MAX),
            P("interpolation", "choice", "bilinear", "Resampling method.",
              choices=("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5", "area")),
            P("crop_to_aspect_ratio", "bool", False, "Crop to the target's aspect ratio first, so nothing is stretched."),
        ),
        key_params=("height", "width"), input_rank=(4,), rank_hint=IMG,
        cost=_c_upsampling,
        explain=(
            "Resizes every image to the same height and width by interpolating between pixels. Put it first to feed "
            "small images (8x8 digits) to a network that needs larger ones, such as a pretrained MobileNetV2 "
            "(at least 32x32). Nothing is learned."
        ),
    ),
    LayerSpec("ZeroPadding2D", "reshaping", "Adds rows and columns of zeros around an image.",
              (P("padding", "pad2d", (1, 1), "n, [rows, cols] or [[top, bottom], [left, right]]."),),
              key_params=("padding",), input_rank=(4,), rank_hint=IMG,
              cost=_c_moves,
              explain=(
                  "Adds rows and columns of zeros around the border of each image. Use it to control the output size of "
                  "the next convolution or pooling layer. Nothing is learned."
              )),
    LayerSpec("Cropping2D", "reshaping", "Cuts rows and columns off the edges of an image.",
              (P("cropping", "pad2d", ((0, 0), (0, 0)), "n, [rows, cols] or [[top, bottom], [left, right]]."),),
              key_params=("cropping",), input_rank=(4,), rank_hint=IMG,
              cost=_c_moves,
              explain=(
                  "Cuts rows and columns off the edges of each image. Use it to remove borders, or to make two branches "
                  "the same size before joining them. Nothing is learned."
              )),
    # -- regularization --------------------------------------------------------
    LayerSpec("SpatialDropout1D", "regularization", "Drops whole channels of a sequence while training.",
              (_rate("Fraction of channels dropped."), SEED), key_params=("rate",), input_rank=(3,), rank_hint=SEQ,
              any_shape=True, passthrough=True,
              cost=_c_training_only,
              explain=(
                  "While training, it drops whole channels of a sequence at once instead of single values. Neighbouring "
                  "steps are closely related, so dropping single values would barely help; dropping a whole channel "
                  "forces the model to use the others. It does nothing when predicting."
              )),
    LayerSpec("SpatialDropout2D", "regularization", "Drops whole feature maps of an image while training.",
              (_rate("Fraction of channels dropped."), SEED), key_params=("rate",), input_rank=(4,), rank_hint=IMG,
              any_shape=True, passthrough=True,
              cost=_c_training_only,
              explain=(
                  "While training, it switches off entire feature maps at random instead of single pixels. Neighbouring "
                  "pixels carry almost the same information, so this regularizes convolutional networks much better "
                  "than plain Dropout. It does nothing when predicting."
              )),
    LayerSpec("GaussianNoise", "regularization", "Adds random noise while training.",
              (P("stddev", "float", REQUIRED, "Standard deviation of the noise.", min=0.0), SEED), key_params=("stddev",),
              any_shape=True, passthrough=True,
              cost=_c_training_only,
              explain=(
                  "While training, it adds small random noise to every input value. This makes the model robust to tiny "
                  "changes and reduces overfitting, a little like data augmentation. It does nothing when predicting."
              )),
    # -- activations -----------------------------------------------------------
    LayerSpec(
        "ReLU", "activations", "max(x, 0), with an optional cap and slope.",
        (
            P("max_value", "float", None, "Upper cap (e.g. 6), or none.", min=0.0, nullable=True),
            P("negative_slope", "float", 0.0, "Slope below the threshold.", min=0.0),
            P("threshold", "float", 0.0, "Values below it are damped."),
        ),
        prefix="relu", applies="relu",
        cost=_c_elementwise(1),
        explain=(
            "Keeps positive values and replaces negative ones with zero, optionally capped at a maximum as in "
            "ReLU6. It is cheap and the default activation for hidden layers, because deep networks train well "
            "with it. Nothing is learned."
        ),
    ),
    LayerSpec("LeakyReLU", "activations", "Like ReLU, but lets a small slope through below zero.",
              (P("negative_slope", "float", 0.3, "Slope below zero.", min=0.0),), key_params=("negative_slope",), prefix="leaky_relu",
              applies="leaky_relu",
              cost=_c_elementwise(1),
              explain=(
                  "Like ReLU, but negative values are multiplied by a small slope instead of becoming zero. This keeps "
                  "a little signal flowing for negative inputs, so units cannot get stuck at zero. Nothing is learned."
              )),
    LayerSpec(
        "PReLU", "activations", "Leaky ReLU whose slope is learned.",
        (
            P("alpha_initializer", "initializer", "Zeros", "How the slopes start.", advanced=True),
            _reg("alpha_regularizer", "slopes"),
            P("shared_axes", "axes", None, "Axes that share one slope, e.g. [1, 2] for images.", nullable=True, min=1),
        ),
        formula=_f_prelu, prefix="prelu",
        cost=_c_elementwise(1),
        explain=(
            "Like LeakyReLU, but the slope for negative values is learned during training, per unit or per "
            "channel. It adds a few weights and lets the network decide how much of the negative signal to keep."
        ),
    ),
    LayerSpec("ELU", "activations", "Exponential linear unit.", (P("alpha", "float", 1.0, "Scale of the negative part."),), prefix="elu",
              applies="elu",
              cost=_c_elementwise(1),
              explain=(
                  "Keeps positive values and bends negative values smoothly towards a floor of minus alpha instead of "
                  "cutting them to zero. The smooth curve can make training a little faster than with ReLU. Nothing is "
                  "learned."
              )),
    LayerSpec("Softmax", "activations", "Turns scores into probabilities that sum to 1.",
              (P("axis", "axes", -1, "Axis to normalize over."),), applies="softmax",
              cost=_c_elementwise(1),
              explain=(
                  "Turns a list of scores into probabilities between 0 and 1 that add up to 1; the largest score gets "
                  "the largest probability. Use it as the last step of a classifier with several classes, with one unit "
                  "per class."
              )),
    # -- recurrent -------------------------------------------------------------
    LayerSpec("SimpleRNN", "recurrent", "Basic recurrent layer.", _rnn_params(gates=False), formula=_rnn(1, 1),
              key_params=("units", "return_sequences"), input_rank=(3,), rank_hint=SEQ,
              cost=_c_rnn(1, 0),
              explain=(
                  "Reads a sequence one step at a time and keeps a hidden state that mixes each new input with what it "
                  "remembers. It is the simplest recurrent layer and easy to follow, but it forgets quickly, so prefer "
                  "LSTM or GRU for long sequences."
              )),
    LayerSpec(
        "LSTM", "recurrent", "Long short-term memory: a recurrent layer that keeps long-range context.",
        _rnn_params() + (P("unit_forget_bias", "bool", True, "Start the forget gate at 1.", advanced=True),),
        formula=_rnn(4, 1), key_params=("units", "return_sequences"), input_rank=(3,), rank_hint=SEQ,
        cost=_c_rnn(4, 5),
        explain=(
            "A recurrent layer with a memory cell and gates (small learned switches) that decide what to keep, "
            "forget and output at each step. This lets it remember information over long sequences, such as words "
            "far back in a sentence. Set return_sequences to true when another recurrent layer follows."
        ),
    ),
    LayerSpec(
        "GRU", "recurrent", "Gated recurrent unit: a lighter LSTM.",
        _rnn_params() + (P("reset_after", "bool", True, "Apply the reset gate after the matrix product (cuDNN style).", advanced=True),),
        formula=_f_gru, key_params=("units", "return_sequences"), input_rank=(3,), rank_hint=SEQ,
        cost=_c_rnn(3, 5),
        explain=(
            "A recurrent layer like LSTM, but with two gates instead of three and no separate memory cell. It has "
            "fewer weights and is often just as accurate, so it is a good first choice for sequences."
        ),
    ),
    LayerSpec(
        "Bidirectional", "recurrent", "Runs a recurrent layer forwards and backwards.",
        (
            P("layer", "layer", REQUIRED, "The recurrent layer to run both ways.", layer_types=RNN_TYPES),
            P("merge_mode", "choice", "concat", "How to combine both directions.", choices=("concat", "sum", "mul", "ave", None)),
        ),
        key_params=("layer", "merge_mode"), input_rank=(3,), rank_hint=SEQ, wrapper=True,
        cost=_c_bidirectional,
        explain=(
            "Runs a recurrent layer twice, once from the start of the sequence and once from the end, and "
            "combines both results. Each step then knows what comes before and after it, which helps with text. "
            "It doubles the cost of the wrapped layer."
        ),
    ),
    LayerSpec(
        "TimeDistributed", "recurrent", "Applies a layer to every time step.",
        (P("layer", "layer", REQUIRED, "The layer applied at each step.",
           layer_types=("Dense", "Conv1D", "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
                        "GlobalMaxPooling2D", "Flatten", "Dropout", "BatchNormalization", "Activation")),),
        key_params=("layer",), input_rank=tuple(range(3, 9)), rank_hint="(batch, steps, ...)", wrapper=True,
        per_step=True,
        cost=_c_time_distributed,
        explain=(
            "Applies the same layer, with the same weights, to every step of a sequence separately. For example, "
            "it can run one Conv2D on every frame of a video, or one Dense layer on every word."
        ),
    ),
    LayerSpec(
        "Embedding", "recurrent", "Turns integer ids (words, tokens) into learned vectors.",
        (
            P("input_dim", "int", REQUIRED, "Vocabulary size: largest id + 1.", min=1, max=INT_MAX),
            P("output_dim", "int", REQUIRED, "Size of each vector.", min=1, max=INT_MAX),
            P("embeddings_initializer", "initializer", "uniform", "How the vectors start.", advanced=True),
            _reg("embeddings_regularizer", "vectors"),
            P("mask_zero", "bool", False, "Treat id 0 as padding."),
        ),
        formula=_f_embedding, key_params=("input_dim", "output_dim"),
        cost=_c_lookup,
        explain=(
            "Turns whole-number ids, such as word numbers, into learned vectors of real numbers. Words used in "
            "similar ways end up with similar vectors during training. Use it as the first layer of a text model, "
            "with input_dim larger than the largest id."
        ),
    ),
    # -- attention -------------------------------------------------------------
    LayerSpec(
        "MultiHeadAttention", "attention", "Multi-head attention (inputs: query, value, optional key).",
        (
            P("num_heads", "int", REQUIRED, "Number of attention heads.", min=1, max=INT_MAX),
            P("key_dim", "int", REQUIRED, "Size of each head for query and key.", min=1, max=INT_MAX),
            P("value_dim", "int", None, "Size of each head for value (default key_dim).", min=1, max=INT_MAX, nullable=True),
            P("dropout", "float", 0.0, "Dropout on the attention weights.", min=0.0, max=1.0, max_exclusive=True),
            USE_BIAS,
        ) + _weights() + (SEED,),
        arity=(2, 3), formula=_f_mha, key_params=("num_heads", "key_dim"), input_rank=tuple(range(3, 9)),
        rank_hint=SEQ, call_style="positional", ports=("query", "value", "key"),
        cost=_c_mha,
        explain=(
            "Lets every position of the query look at all positions of the value and take a weighted mix of them, "
            "weighted by how well they match. Several heads do this side by side, each free to look for a "
            "different kind of relation. It is the heart of transformers; give it the same input as query and "
            "value for self-attention."
        ),
    ),
    LayerSpec(
        "Attention", "attention", "Dot-product attention (inputs: query, value, optional key).",
        (
            P("use_scale", "bool", False, "Learn a scale for the scores."),
            P("score_mode", "choice", "dot", "How scores are computed.", choices=("dot", "concat")),
            P("dropout", "float", 0.0, "Dropout on the attention weights.", min=0.0, max=1.0, max_exclusive=True),
            SEED,
        ),
        arity=(2, 3), formula=_f_attention, input_rank=(3,), rank_hint=SEQ, call_style="list",
        ports=("query", "value", "key"),
        cost=_c_attention,
        explain=(
            "Dot-product attention without learned projections: each query step scores every value step by "
            "similarity, softmax turns the scores into weights, and the output is the weighted mix of values. It "
            "is simpler and lighter than MultiHeadAttention."
        ),
    ),
    # -- merge -----------------------------------------------------------------
    *[
        LayerSpec(t, "merge", text, arity=(2, 2) if t == "Subtract" else (2, None), call_style="list", merge="same",
                  cost=cost, explain=explain)
        for t, text, cost, explain in (
            ("Add", "Adds its inputs (all the same shape).", _c_merge(), (
                "Adds its inputs element by element, so they must all have the same shape. ResNets use it for "
                "skip connections: a block's input is added back to its output, which lets very deep networks "
                "train well."
            )),
            ("Subtract", "Subtracts the second input from the first.", _c_merge(), (
                "Subtracts the second input from the first, element by element; both must have the same shape. "
                "Use it to compare two branches, such as the difference between two embeddings."
            )),
            ("Multiply", "Multiplies its inputs element-wise.", _c_merge(), (
                "Multiplies its inputs element by element; they must have the same shape. Use it to let one "
                "branch scale or switch off parts of another, as gates and attention masks do."
            )),
            ("Average", "Averages its inputs.", _c_merge(extra=1), (
                "Takes the element-wise mean of its inputs, which must have the same shape. Use it to combine "
                "branches, or the predictions of several sub-models, into one."
            )),
            ("Maximum", "Element-wise maximum of its inputs.", _c_merge(), (
                "Keeps, at every position, the largest value among its inputs, which must have the same shape. "
                "Use it to combine branches by letting the strongest response win."
            )),
            ("Minimum", "Element-wise minimum of its inputs.", _c_merge(), (
                "Keeps, at every position, the smallest value among its inputs, which must have the same shape. "
                "It is rarely needed, but it can combine branches by keeping the most cautious response."
            )),
        )
    ],
    LayerSpec("Concatenate", "merge", "Joins its inputs along an axis (other axes must match).",
              (P("axis", "axes", -1, "Axis to join along.", single=True),), arity=(2, None), call_style="list", merge="concat",
              cost=_c_moves,
              explain=(
                  "Joins its inputs side by side along one axis (the last by default), so 4 features and 3 features "
                  "become 7. The other axes must match. Use it to merge branches while keeping all their information, "
                  "as Inception blocks and models with several inputs do."
              )),
    LayerSpec(
        "Dot", "merge", "Dot product of two inputs along the given axes.",
        (P("axes", "axes", REQUIRED, "Axis, or [axis of first, axis of second].", length=2),
         P("normalize", "bool", False, "L2-normalize first (cosine similarity).")),
        arity=(2, 2), call_style="list", key_params=("axes",),
        cost=_c_dot,
        explain=(
            "Computes dot products between its two inputs along the given axes: it multiplies matching values and "
            "adds them up. With normalize on, the result is the cosine similarity, a measure of how alike two "
            "vectors are, as used in Siamese networks and recommenders."
        ),
    ),
    LayerSpec(
        "CustomScaleLayer", "merge", "Adds a scaled residual to a shortcut: shortcut + scale × residual.",
        (P("scale", "float", REQUIRED, "Factor on the residual, e.g. 0.17 (InceptionResNetV2)."),),
        arity=(2, 2), call_style="list", merge="same", key_params=("scale",), ports=("shortcut", "residual"),
        cost=_c_elementwise(2),
        module="keras.src.applications.inception_resnet_v2",
        explain=(
            "Adds its second input, multiplied by a fixed factor, to its first: shortcut + scale × residual. "
            "InceptionResNetV2 uses small factors such as 0.17 so that its many residual blocks start gently and "
            "training stays stable. Both inputs must have the same shape."
        ),
    ),
    # -- augmentation ------------------------------------------------------------
    LayerSpec(
        "RandomFlip", "augmentation", "Flips images at random while training.",
        (P("mode", "choice", "horizontal_and_vertical", "Which flips.", choices=("horizontal", "vertical", "horizontal_and_vertical")), SEED),
        key_params=("mode",), input_rank=(3, 4), rank_hint=IMG,
        cost=_c_training_only,
        explain=(
            "While training, it mirrors images at random, left to right, upside down or both. This data "
            "augmentation shows the model more varied examples, so it overfits less. It does nothing when "
            "predicting."
        ),
    ),
    LayerSpec(
        "RandomRotation", "augmentation", "Rotates images at random while training.",
        (P("factor", "range", REQUIRED, "Fraction of a full turn, e.g. 0.1 = up to ±36°.", min=-1.0, max=1.0),)
        + _random_image_params(),
        key_params=("factor",), input_rank=(3, 4), rank_hint=IMG,
        cost=_c_training_only,
        explain=(
            "While training, it rotates each image by a random angle within the given range. The model learns "
            "that a slightly turned object is still the same object. It does nothing when predicting."
        ),
    ),
    LayerSpec(
        "RandomZoom", "augmentation", "Zooms images at random while training.",
        (
            P("height_factor", "range", REQUIRED, "Zoom range for height, e.g. 0.2 or [-0.3, 0.2].", min=-1.0, max=1.0),
            P("width_factor", "range", None, "Zoom range for width (default: keep aspect).", min=-1.0, max=1.0, nullable=True),
        ) + _random_image_params(),
        key_params=("height_factor",), input_rank=(3, 4), rank_hint=IMG,
        cost=_c_training_only,
        explain=(
            "While training, it zooms each image in or out at random. The model learns to recognize objects at "
            "slightly different sizes. It does nothing when predicting."
        ),
    ),
    LayerSpec(
        "RandomTranslation", "augmentation", "Shifts images at random while training.",
        (
            P("height_factor", "range", REQUIRED, "Shift range as a fraction of the height.", min=-1.0, max=1.0),
            P("width_factor", "range", REQUIRED, "Shift range as a fraction of the width.", min=-1.0, max=1.0),
        ) + _random_image_params(),
        key_params=("height_factor", "width_factor"), input_rank=(3, 4), rank_hint=IMG,
        cost=_c_training_only,
        explain=(
            "While training, it shifts each image up, down, left or right by a random amount. The model learns "
            "that an object can appear anywhere in the picture. It does nothing when predicting."
        ),
    ),
    LayerSpec(
        "RandomContrast", "augmentation", "Changes contrast at random while training.",
        (P("factor", "range", REQUIRED, "Contrast range, e.g. 0.2.", min=0.0, max=1.0),
         P("value_range", "range", (0, 255), "Range of the pixel values.", advanced=True), SEED),
        key_params=("factor",), input_rank=(3, 4), rank_hint=IMG,
        cost=_c_training_only,
        explain=(
            "While training, it makes the contrast of each image randomly stronger or weaker. The model becomes "
            "robust to differences in lighting between photos. It does nothing when predicting."
        ),
    ),
]

LAYERS: dict[str, LayerSpec] = {s.type: s for s in _SPECS}
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(s.category for s in _SPECS))


def register_keras_classes() -> None:
    """Adds the catalog's layers that Keras defines outside keras.layers to Keras's custom objects (imports Keras).

    A legacy `.h5` file names a layer by its class name alone, so Keras can load ConvNeXt's LayerScale from one
    only when it knows that name (see `LayerSpec.keras_class`).
    """
    for spec in _SPECS:
        if spec.module != DEFAULT_MODULE:
            spec.keras_class()


def by_category() -> dict[str, list[LayerSpec]]:
    """Palette groups in catalog order."""
    out: dict[str, list[LayerSpec]] = {c: [] for c in CATEGORIES}
    for s in _SPECS:
        out[s.category].append(s)
    return out


def search(text: str) -> list[LayerSpec]:
    """Layers whose type, category or help mentions `text` (case-insensitive)."""
    t = text.strip().lower()
    return [s for s in _SPECS if not t or t in s.type.lower() or t in s.category or t in s.help.lower()]


# The layer that maps the last axis to a given width and keeps the others, by input rank (batch axis included):
# a 1x1 convolution on images and volumes (Dense there would be warned about keeping the image axes), else Dense.
_PROJECTIONS = {4: ("Conv2D", "filters", {"kernel_size": 1}), 5: ("Conv3D", "filters", {"kernel_size": 1})}


def channel_projection(rank: int, width: int) -> tuple[str, dict]:
    """(type, params) of a layer that turns an input of `rank` axes into `width` features on its last axis."""
    type_, size, extra = _PROJECTIONS.get(rank, ("Dense", "units", {}))
    return type_, {size: width, **extra}


def default_params(type_: str) -> dict:
    """Starter params for a new node: the required ones, with sensible values."""
    return {k: v for k, v in STARTERS.get(type_, {}).items()}


# Values given to required params when a layer is dropped from the palette.
STARTERS: dict[str, dict] = {
    "Input": {"shape": [28, 28, 1]},
    "Dense": {"units": 32, "activation": "relu"},
    "Activation": {"activation": "relu"},
    "Dropout": {"rate": 0.5},
    "Reshape": {"target_shape": [-1, 1]},
    "Permute": {"dims": [2, 1]},
    "RepeatVector": {"n": 4},
    "Rescaling": {"scale": 1 / 255},
    "Conv1D": {"filters": 32, "kernel_size": 3, "activation": "relu"},
    "Conv2D": {"filters": 32, "kernel_size": [3, 3], "activation": "relu"},
    "Conv3D": {"filters": 16, "kernel_size": [3, 3, 3], "activation": "relu"},
    "SeparableConv2D": {"filters": 32, "kernel_size": [3, 3], "activation": "relu"},
    "DepthwiseConv2D": {"kernel_size": [3, 3]},
    "Conv2DTranspose": {"filters": 32, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same"},
    "AveragePooling1D": {"pool_size": 2},
    "AveragePooling2D": {"pool_size": [2, 2]},
    "SpatialDropout1D": {"rate": 0.2},
    "SpatialDropout2D": {"rate": 0.2},
    "GaussianNoise": {"stddev": 0.1},
    "SimpleRNN": {"units": 32},
    "LSTM": {"units": 32},
    "GRU": {"units": 32},
    "Bidirectional": {"layer": {"type": "LSTM", "params": {"units": 32}}},
    "TimeDistributed": {"layer": {"type": "Dense", "params": {"units": 32}}},
    "Embedding": {"input_dim": 1000, "output_dim": 32},
    "MultiHeadAttention": {"num_heads": 2, "key_dim": 16},
    "Dot": {"axes": 1},
    "LayerScale": {"init_values": 1e-6, "projection_dim": 32},
    "CustomScaleLayer": {"scale": 0.17},
    "RandomRotation": {"factor": 0.1},
    "RandomZoom": {"height_factor": 0.1},
    "RandomTranslation": {"height_factor": 0.1, "width_factor": 0.1},
    "RandomContrast": {"factor": 0.2},
}
