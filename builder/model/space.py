"""The design space in a graph file: which values of its parameters (and of the training settings) to try.

The space lives in the graph file's optional `search` field (CONTRACT.md):

    "search": {"space": {"hidden.units": {"values": [8, 16, 32]},
                         "drop.rate": {"min": 0.0, "max": 0.5, "step": 0.1},
                         "compile.learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"}},
               "tuner": "random", "max_trials": 8, "objective": "val_accuracy"}

A key is `NODE_ID.PARAM` (`NODE_ID.layer.PARAM` inside a wrapper), `compile.NAME` or `training.NAME`. Params keep
their current value, so everything that needs one model (summary, code, build) ignores the space. This module reads,
checks and edits the field; builder.train.search runs the search. The graph keeps the keys in step when a node is
renamed or removed (builder.model.graph).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from builder.config import BATCH_SIZE, EPOCHS, OPTIMIZER_NAMES
from builder.model.catalog import LAYERS
from builder.model.graph import Graph, describe, printable
from builder.model.issues import Issue

TUNERS = {"random": "Random search", "bayesian": "Bayesian optimization", "hyperband": "Hyperband"}
SAMPLINGS = ("linear", "log")
DEFAULT_TRIALS = 8
MAX_TRIALS = 1000
# Settings that can be searched besides node params: name -> (kind, low, high) for numbers, or ("choice", values).
COMPILE_KEYS = {"learning_rate": ("float", 0.0, 1e7), "optimizer": ("choice", None, None)}
TRAINING_KEYS = {"batch_size": ("int", *BATCH_SIZE), "epochs": ("int", *EPOCHS)}
DIM_FIELDS = {"values", "min", "max", "step", "sampling"}


class SearchError(ValueError):
    """A search space or search settings that cannot be used; str(e) says which and why."""


# -- the space -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dim:
    """One searched key: a list of values, or a range min..max (with an optional step; log or linear sampling).

    With log sampling, `step` is a factor (KerasTuner's meaning): 1, 2, 4, 8 for min 1, max 8, step 2.
    """

    key: str
    values: tuple | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    sampling: str = "linear"
    whole: bool = False  # whole numbers only (an int param)

    def to_dict(self) -> dict:
        if self.values is not None:
            return {"values": [plain_value(v) for v in self.values]}
        d = {"min": self.min, "max": self.max}
        if self.step is not None:
            d["step"] = self.step
        if self.sampling != "linear":
            d["sampling"] = self.sampling
        return d

    def describe(self) -> str:
        """Short text: "8, 16 or 32", "0 to 0.5 by 0.1", "0.0001 to 0.01, log scale"."""
        if self.values is not None:
            shown = [_show(v) for v in self.values]
            return ", ".join(shown[:-1]) + " or " + shown[-1]
        text = f"{_show(self.min)} to {_show(self.max)}"
        if self.step is not None:
            text += f" ×{_show(self.step)}" if self.sampling == "log" else f" by {_show(self.step)}"
        return text + (", log scale" if self.sampling == "log" else "")

    def grid(self) -> list | None:
        """Every value the dim can take, when there are finitely many (else None)."""
        if self.values is not None:
            return list(self.values)
        if self.step is None:
            return list(range(int(self.min), int(self.max) + 1)) if self.whole else None
        out, v = [], self.min
        while v <= self.max * (1 + 1e-12) + 1e-12 and len(out) <= 10_000:
            out.append(int(round(v)) if self.whole else round(v, 12))
            v = v * self.step if self.sampling == "log" else v + self.step
        return out


@dataclass(frozen=True)
class SearchSpec:
    """The whole `search` field."""

    dims: tuple[Dim, ...] = ()
    tuner: str = "random"
    max_trials: int = DEFAULT_TRIALS
    objective: str | None = None  # None: val_accuracy when the model reports accuracy, else val_loss
    max_minutes: float | None = None  # time budget (optional)

    def dim(self, key: str) -> Dim | None:
        return next((d for d in self.dims if d.key == key), None)

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"space": {d.key: d.to_dict() for d in self.dims}, "tuner": self.tuner,
                             "max_trials": self.max_trials}
        if self.objective:
            d["objective"] = self.objective
        if self.max_minutes is not None:
            d["max_minutes"] = self.max_minutes
        return d

    def combinations(self) -> int | None:
        """How many different trials the space holds (None: unbounded, a continuous range)."""
        total = 1
        for d in self.dims:
            grid = d.grid()
            if grid is None:
                return None
            total *= len(grid)
        return total


def plain_value(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _show(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "×".join(_show(x) for x in v) if all(isinstance(x, int) for x in v) else json.dumps(list(v))
    if v is None:
        return "none"
    return str(v).lower() if isinstance(v, bool) else str(v)


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def split_key(key: str) -> tuple[str, str]:
    """("node" | "compile" | "training", rest): `dense.units` -> (dense, units) as ("node:dense", "units")."""
    head, _, rest = key.partition(".")
    return head, rest


@dataclass(frozen=True)
class _Target:
    """What a key points at: where its issues are pinned, and how to check one value."""

    node_id: str | None
    label: str  # "hidden (Dense): units", "learning rate"
    kind: str  # int | float | choice | bool | other
    check: Any  # value -> problem text or None


def _target(graph: Graph, key: str) -> _Target | str:
    """The key's target, or the text of what is wrong with the key itself."""
    if not isinstance(key, str) or "." not in key:
        return f"'{printable(key)}' is not a search key: use NODE_ID.PARAM, compile.NAME or training.NAME"
    head, name = split_key(key)
    if head in ("compile", "training") and head not in graph.ids():
        table = COMPILE_KEYS if head == "compile" else TRAINING_KEYS
        if name not in table:
            return f"'{printable(name)}' cannot be searched in {head}: use one of {', '.join(table)}"
        kind, low, high = table[name]
        label = name.replace("_", " ")
        if kind == "choice":
            return _Target(None, label, "choice", lambda v: None if v in OPTIMIZER_NAMES else
                           f"expected one of {', '.join(OPTIMIZER_NAMES)}, got {_show(v)}")
        whole = kind == "int"

        def check(v, low=low, high=high, whole=whole):
            ok = (isinstance(v, int) and not isinstance(v, bool)) if whole else is_number(v)
            if not ok or not low <= v <= high or (not whole and v <= low):
                return (f"expected a whole number from {low} to {high}" if whole else "expected a number above 0") \
                    + f", got {_show(v)}"
            return None

        return _Target(None, label, kind, check)
    if head not in graph.ids():
        return f"the search names '{printable(head)}', which is not a node: remove it from the search"
    node = graph.node(head)
    spec = LAYERS.get(node.type)
    if spec is None:
        return f"{describe(node)} has an unknown type"
    params, ps_name, where = node.params, name, spec
    if "." in name:  # a wrapped layer's param: layer.units
        outer, ps_name = name.split(".", 1)
        wrapped = params.get(outer)
        if not isinstance(wrapped, dict) or wrapped.get("type") not in LAYERS:
            return f"{describe(node)} has no wrapped layer in '{printable(outer)}'"
        where = LAYERS[wrapped["type"]]
    ps = where.param(ps_name)
    if ps is None:
        return f"{describe(node)} has no parameter '{printable(ps_name)}': remove it from the search"
    kind = ps.kind if ps.kind in ("int", "float", "choice", "bool") else "other"
    if ps.kind in ("layer", "shape"):
        return f"{describe(node)}: {ps_name} cannot be searched"
    return _Target(node.id, f"{describe(node)}: {name}", kind, ps.problem)


def check_dim(graph: Graph, key: str, raw: Any) -> tuple[Dim | None, str | None, str | None]:
    """(the dim, None, None) when `raw` is a usable space for `key`, else (None, node id or None, problem)."""
    target = _target(graph, key)
    if isinstance(target, str):
        head = split_key(key)[0] if isinstance(key, str) else None
        return None, head if head in graph.ids() else None, f"search: {target}"
    where, label = target.node_id, target.label

    def bad(text):
        return None, where, f"{label}: search {text}"

    if not isinstance(raw, dict) or not raw:
        return bad('expected {"values": [...]} or {"min": ..., "max": ...}, got ' + printable(json.dumps(raw)))
    extra = set(raw) - DIM_FIELDS
    if extra:
        return bad(f"has no field '{printable(sorted(extra)[0])}' (use values, or min, max, step and sampling)")
    if "values" in raw:
        if set(raw) - {"values"}:
            return bad("takes either a list of values or min and max, not both")
        values = raw["values"]
        if not isinstance(values, list) or len(values) < 2:
            return bad(f"needs at least two values to choose from, got {printable(json.dumps(values))}")
        seen = []
        for v in values:
            if (p := target.check(v)) is not None:
                return bad(f"value {_show(v)}: {p}")
            if v in seen:
                return bad(f"lists {_show(v)} twice")
            seen.append(v)
        return Dim(key, values=tuple(tuple(v) if isinstance(v, list) else v for v in values),
                   whole=target.kind == "int"), None, None
    if target.kind not in ("int", "float"):
        return bad("over a range needs a number; list the values to try instead")
    lo, hi = raw.get("min"), raw.get("max")
    if lo is None or hi is None:
        return bad("needs both min and max")
    whole = target.kind == "int"
    for name, v in (("min", lo), ("max", hi)):
        if not is_number(v):
            return bad(f"{name} must be a number, got {_show(v)}")
        if whole and not (isinstance(v, int) or float(v).is_integer()):
            return bad(f"{name} must be a whole number, got {_show(v)}")
        if (p := target.check(int(v) if whole else v)) is not None:
            return bad(f"{name}: {p}")
    if lo > hi:
        return bad(f"min {_show(lo)} is above max {_show(hi)}: swap them")
    if lo == hi:
        return bad(f"min and max are both {_show(lo)}: that is one value; widen the range")
    sampling = raw.get("sampling", "linear")
    if sampling not in SAMPLINGS:
        return bad(f"sampling must be linear or log, got {_show(sampling)}")
    if sampling == "log" and lo <= 0:
        return bad(f"on a log scale needs min above 0, got {_show(lo)}")
    step = raw.get("step")
    if step is not None:
        if not is_number(step) or step <= 0:
            return bad(f"step must be a number above 0, got {_show(step)}")
        if sampling == "log" and step <= 1:
            return bad(f"step on a log scale is a factor and must be above 1, got {_show(step)}")
        if whole and not float(step).is_integer():
            return bad(f"step must be a whole number, got {_show(step)}")
        if (sampling == "linear" and lo + step > hi) or (sampling == "log" and lo * step > hi):
            return bad(f"step {_show(step)} leaves only the value {_show(lo)} between {_show(lo)} and {_show(hi)}: "
                       "use a smaller step")
    if whole:
        lo, hi, step = int(lo), int(hi), None if step is None else int(step)
    return Dim(key, min=lo, max=hi, step=step, sampling=sampling, whole=whole), None, None


def read(graph: Graph) -> tuple[SearchSpec | None, list[Issue]]:
    """The graph's search spec (None when it has no `search` field), and the issues of its space, pinned to nodes.

    A dim with a problem is left out of the spec; the issue says why.
    """
    raw = graph.extra.get("search")
    if raw is None:
        return None, []
    issues: list[Issue] = []

    def graph_issue(text):
        issues.append(Issue(None, "search", f"search: {text}"))

    if not isinstance(raw, dict):
        graph_issue(f"expected an object with a space, got {printable(json.dumps(raw))}")
        return None, issues
    space = raw.get("space", {})
    if not isinstance(space, dict):
        graph_issue("space must map keys (NODE_ID.PARAM) to values or ranges")
        space = {}
    dims = []
    for key, value in space.items():
        dim, where, problem = check_dim(graph, key, value)
        if problem:
            issues.append(Issue(where, "search", problem))
        else:
            dims.append(dim)
    tuner = raw.get("tuner", "random")
    if tuner not in TUNERS:
        graph_issue(f"tuner must be one of {', '.join(TUNERS)}, got {_show(tuner)}")
        tuner = "random"
    trials = raw.get("max_trials", DEFAULT_TRIALS)
    if not isinstance(trials, int) or isinstance(trials, bool) or not 1 <= trials <= MAX_TRIALS:
        graph_issue(f"max_trials must be a whole number from 1 to {MAX_TRIALS}, got {_show(trials)}")
        trials = DEFAULT_TRIALS
    objective = raw.get("objective")
    if objective is not None and (not isinstance(objective, str) or not objective.strip()):
        graph_issue(f"objective must be a metric name such as val_accuracy, got {_show(objective)}")
        objective = None
    minutes = raw.get("max_minutes")
    if minutes is not None and (not is_number(minutes) or minutes <= 0):
        graph_issue(f"max_minutes must be a number above 0, got {_show(minutes)}")
        minutes = None
    return SearchSpec(tuple(dims), tuner, trials, objective, minutes), issues


def issues(graph: Graph) -> list[Issue]:
    return read(graph)[1]


def _raw(graph: Graph) -> dict:
    raw = graph.extra.get("search")
    return json.loads(json.dumps(raw)) if isinstance(raw, dict) else {}


def set_dim(graph: Graph, key: str, space: dict | None) -> Graph:
    """The graph with `key` searched over `space` (None: not searched any more).

    Raises:
        SearchError: the space cannot be used (the message names the node and what to change).
    """
    raw = _raw(graph)
    dims = dict(raw.get("space") or {})
    if space is None:
        dims.pop(key, None)
    else:
        _, _, problem = check_dim(graph, key, space)
        if problem:
            raise SearchError(problem)
        dims[key] = space
    raw["space"] = dims
    if not dims and not any(k != "space" for k in raw):
        return graph.set_extra("search", None)
    return graph.set_extra("search", raw)


def set_options(graph: Graph, **options) -> Graph:
    """Sets tuner, max_trials, objective or max_minutes (None removes one). Raises SearchError on a bad value."""
    raw = _raw(graph)
    for name, value in options.items():
        if name not in ("tuner", "max_trials", "objective", "max_minutes"):
            raise SearchError(f"unknown search option {name!r}")
        if value is None:
            raw.pop(name, None)
        else:
            raw[name] = value
    probe = graph.set_extra("search", {**raw, "space": {}})
    problems = [i.message for i in read(probe)[1]]
    if problems:
        raise SearchError(problems[0])
    raw.setdefault("space", {})
    return graph.set_extra("search", raw)


def searched(graph: Graph) -> dict[str, dict[str, str]]:
    """node id -> {param: "8, 16 or 32"} for the valid dims on nodes (what the canvas and inspector show)."""
    spec, _ = read(graph)
    out: dict[str, dict[str, str]] = {}
    for d in spec.dims if spec else ():
        head, name = split_key(d.key)
        if head in graph.ids():
            out.setdefault(head, {})[name] = d.describe()
    return out


def node_marks(graph: Graph, node_id: str) -> dict[str, str]:
    """param -> what the search tries, for one node ({} when nothing is searched)."""
    return searched(graph).get(node_id, {}) if "search" in graph.extra else {}


# -- values ----------------------------------------------------------------------------------------------------
def apply_values(graph: Graph, values: dict[str, Any]) -> Graph:
    """The graph with searched values set: node params, and `compile` / `training` fields for the others.

    Raises:
        GraphError: a value the node refuses (the message names the node).
    """
    for key, value in values.items():
        head, name = split_key(key)
        if head in ("compile", "training") and head not in graph.ids():
            section = dict(graph.extra.get(head) or {}) if isinstance(graph.extra.get(head), dict) else {}
            section[name] = value
            graph = graph.set_extra(head, section)
        else:
            graph = graph.set_param(head, name, list(value) if isinstance(value, tuple) else value)
    return graph
