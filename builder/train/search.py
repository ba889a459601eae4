"""Searching a design space: which values of a graph's parameters (and of the training settings) work best.

The space lives in the graph file's optional `search` field (CONTRACT.md):

    "search": {"space": {"hidden.units": {"values": [8, 16, 32]},
                         "drop.rate": {"min": 0.0, "max": 0.5, "step": 0.1},
                         "compile.learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"}},
               "tuner": "random", "max_trials": 8, "objective": "val_accuracy"}

A key is `NODE_ID.PARAM` (`NODE_ID.layer.PARAM` inside a wrapper), `compile.NAME` or `training.NAME`. Params keep
their current value, so everything that needs one model (summary, code, build) ignores the space.

KerasTuner runs the search (`SearchJob`): its oracle (random, Bayesian optimization or Hyperband) picks the values,
and each trial is one of our `TrainingJob`s, recorded as a run in the store like any other, so its curves can be
compared on the Runs page. A trial whose values make an invalid model fails with its reason; the search goes on.
No Streamlit here.
"""

from __future__ import annotations

import contextlib
import json
import math
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from builder.model.catalog import LAYERS
from builder.model.graph import Graph, describe, printable
from builder.model.validate import Issue
from builder.train.training import BackgroundJob

TUNERS = {"random": "Random search", "bayesian": "Bayesian optimization", "hyperband": "Hyperband"}
SAMPLINGS = ("linear", "log")
DEFAULT_TRIALS = 8
MAX_TRIALS = 1000
# Settings that can be searched besides node params: name -> (kind, low, high) for numbers, or ("choice", values).
COMPILE_KEYS = {"learning_rate": ("float", 0.0, 1e7), "optimizer": ("choice", None, None)}
TRAINING_KEYS = {"batch_size": ("int", 1, 65_536), "epochs": ("int", 1, 10_000)}
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
            return {"values": [_plain(v) for v in self.values]}
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


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _show(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "×".join(_show(x) for x in v) if all(isinstance(x, int) for x in v) else json.dumps(list(v))
    if v is None:
        return "none"
    return str(v).lower() if isinstance(v, bool) else str(v)


def _is_number(v: Any) -> bool:
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
    from builder.train.training import OPTIMIZERS

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
            return _Target(None, label, "choice", lambda v: None if v in OPTIMIZERS else
                           f"expected one of {', '.join(OPTIMIZERS)}, got {_show(v)}")
        whole = kind == "int"

        def check(v, low=low, high=high, whole=whole):
            ok = (isinstance(v, int) and not isinstance(v, bool)) if whole else _is_number(v)
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
        if not _is_number(v):
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
        if not _is_number(step) or step <= 0:
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
    if minutes is not None and (not _is_number(minutes) or minutes <= 0):
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


def rename_node(raw: Any, old: str, new: str) -> Any:
    """The `search` field with the keys of node `old` renamed to `new` (Graph.rename calls this)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("space"), dict):
        return raw
    space = {(new + k[len(old):] if k.startswith(old + ".") else k): v for k, v in raw["space"].items()}
    return {**raw, "space": space}


def drop_node(raw: Any, node_id: str) -> Any:
    """The `search` field without the keys of a removed node."""
    if not isinstance(raw, dict) or not isinstance(raw.get("space"), dict):
        return raw
    return {**raw, "space": {k: v for k, v in raw["space"].items() if not k.startswith(node_id + ".")}}


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


def trial_settings(settings, values: dict[str, Any]):
    """TrainSettings with the searched compile and training values set (a new object; `settings` is unchanged)."""
    comp = replace(settings.compile, metrics=list(settings.compile.metrics))
    changes = {}
    for key, value in values.items():
        head, name = split_key(key)
        if head == "compile" and name in COMPILE_KEYS:
            comp = replace(comp, **{name: value})
        elif head == "training" and name in TRAINING_KEYS:
            changes[name] = value
    return replace(settings, compile=comp, **changes)


def default_objective(settings) -> str:
    """val_accuracy when the model reports accuracy, else val_loss."""
    return "val_accuracy" if "accuracy" in settings.compile.metrics else "val_loss"


def maximize(objective: str) -> bool:
    """Whether a larger objective is better (KerasTuner's rule: accuracy-like metrics up, losses and errors down)."""
    name = objective.removeprefix("val_")
    return name in ("accuracy", "acc", "auc", "precision", "recall", "f1_score", "r2_score") or name.endswith(
        "accuracy")


def pareto(points: list[tuple[float, float]], higher_is_better: bool = True) -> list[bool]:
    """For each (cost, score) point: is it on the Pareto front (no other point is as cheap and better, or cheaper
    and as good)? Lower cost is better; the score's direction is `higher_is_better`."""
    sign = 1 if higher_is_better else -1
    front = []
    for i, (c, s) in enumerate(points):
        dominated = any(
            (c2 <= c and sign * s2 >= sign * s) and (c2 < c or sign * s2 > sign * s)
            for j, (c2, s2) in enumerate(points) if j != i)
        front.append(not dominated)
    return front


# -- KerasTuner ------------------------------------------------------------------------------------------------
def _encoded(dim: Dim) -> tuple[list, bool]:
    """The values as KerasTuner's Choice takes them (one type of int, float, str or bool), and whether they are
    JSON-encoded (lists, None or mixed types)."""
    values = list(dim.values)
    kinds = {type(v) for v in values}
    if kinds in ({int}, {float}, {str}, {bool}):
        return values, False
    if kinds == {int, float}:
        return [float(v) for v in values], False
    return [json.dumps(_plain(v)) for v in values], True


def declare(hp, spec: SearchSpec) -> dict[str, Any]:
    """Declares every dim on KerasTuner's `hp` and returns key -> the value it holds now (decoded)."""
    values = {}
    for d in spec.dims:
        if d.values is not None:
            choices, encoded = _encoded(d)
            ordered = all(_is_number(v) for v in choices) if not encoded else False
            v = hp.Choice(d.key, choices, ordered=ordered)
            values[d.key] = _decode(v, encoded)
        elif d.whole:
            values[d.key] = hp.Int(d.key, d.min, d.max, step=d.step, sampling=d.sampling)
        else:
            values[d.key] = hp.Float(d.key, d.min, d.max, step=d.step, sampling=d.sampling)
    return values


def _decode(v: Any, encoded: bool) -> Any:
    if not encoded:
        return v
    out = json.loads(v)
    return tuple(out) if isinstance(out, list) else out


def values_of(hp_values: dict, spec: SearchSpec) -> dict[str, Any]:
    """A trial's values of our keys (KerasTuner's own `tuner/...` entries left out), decoded."""
    out = {}
    for d in spec.dims:
        if d.key not in hp_values:
            continue
        v = hp_values[d.key]
        if d.values is not None:
            out[d.key] = _decode(v, _encoded(d)[1])
        elif d.whole:
            out[d.key] = int(v)
        else:  # a step of 0.1 gives 0.30000000000000004: keep the value the user would write
            out[d.key] = round(float(v), 10) if d.step is not None and d.sampling == "linear" else float(v)
    return out


def _tuner_class(name: str):
    """KerasTuner's tuner class for `name`, made to run each trial as one of our training jobs."""
    import keras_tuner as kt

    base = {"random": kt.RandomSearch, "bayesian": kt.BayesianOptimization, "hyperband": kt.Hyperband}[name]

    class Tuner(base):
        def __init__(self, job: SearchJob, **kwargs):
            self._job = job
            super().__init__(**kwargs)

        def _populate_initial_space(self):
            # KerasTuner builds the model here to learn the space; ours is declared without building anything.
            hp = self.oracle.get_space()
            self.hypermodel.declare_hyperparameters(hp)
            self.oracle.update_space(hp)

        def run_trial(self, trial, *args, **kwargs):
            return self._job._run_trial(trial)

        def save_model(self, trial_id, model, step=0):  # the trial's run keeps its model (TrainingJob)
            pass

    return Tuner


def _hypermodel(spec: SearchSpec):
    import keras_tuner as kt

    class Space(kt.HyperModel):
        def declare_hyperparameters(self, hp):
            declare(hp, spec)

        def build(self, hp):  # never called: SearchJob._run_trial builds each trial's model from the graph
            raise kt.errors.FatalError("the search builds models from the graph")

    return Space()


# -- the job ---------------------------------------------------------------------------------------------------
@dataclass
class Trial:
    """One trial of a search (JSON-able with `to_dict`)."""

    number: int  # 1-based, in the order trials started
    values: dict
    status: str = "running"  # running | ok | failed | stopped
    score: float | None = None  # the objective at the trial's best epoch
    reason: str | None = None  # why it failed or stopped
    run_id: str | None = None
    total_params: int | None = None
    macs: int | None = None
    epochs: int = 0
    seconds: float = 0.0
    test: dict = field(default_factory=dict)  # test metrics of the trial's model
    continues: int | None = None  # Hyperband: the trial number whose weights it continued from
    val_loss: float | None = None  # at the best epoch: breaks ties between equal scores

    def to_dict(self) -> dict:
        return {"number": self.number, "values": {k: _plain(v) for k, v in self.values.items()},
                "status": self.status, "score": self.score, "reason": self.reason, "run_id": self.run_id,
                "total_params": self.total_params, "macs": self.macs, "epochs": self.epochs,
                "seconds": round(self.seconds, 3), "test": dict(self.test), "continues": self.continues,
                "val_loss": self.val_loss}


class SearchJob(BackgroundJob):
    """A KerasTuner search over the graph's `search` space, in a background thread. Never calls streamlit.

    It goes in the same `JobRegistry` as training runs (it takes one slot, and its trials run inside it). Each trial
    is a `TrainingJob` recorded as a run in the store, its settings tagged `{"search": {"id", "trial"}}`.

    Args:
        graph: The graph with a `search` field.
        dataset: As for TrainingJob.
        settings: TrainSettings for every trial (the searched compile and training keys replace theirs).
        store, project_id, artifact_dir, owner: As for TrainingJob (each trial's run is recorded there).
        max_trials, tuner, objective, max_minutes: Override the graph's search settings.

    Raises:
        SearchError: no search space, or a space with problems (the first one, naming its node).
    """

    kind = "search"
    thread_name = "search"

    def __init__(self, graph: Graph, dataset, settings, store=None, project_id: str | None = None,
                 artifact_dir: str | None = None, owner: str | None = None, max_trials: int | None = None,
                 tuner: str | None = None, objective: str | None = None, max_minutes: float | None = None):
        spec, problems = read(graph)
        if problems:
            raise SearchError(problems[0].message if problems[0].node_id is None
                              else f"{problems[0].node_id}: {problems[0].message}")
        if spec is None or not spec.dims:
            raise SearchError("nothing is marked for search: mark at least one parameter (a list of values or a "
                              "range) in the inspector")
        overrides = {k: v for k, v in (("max_trials", max_trials), ("tuner", tuner), ("objective", objective),
                                       ("max_minutes", max_minutes)) if v is not None}
        if overrides:
            graph = set_options(graph, **overrides)
            spec, _ = read(graph)
        settings.check()
        self.graph, self.dataset, self.settings, self.spec = graph, dataset, replace(settings, inspect=False), spec
        if not self.settings.validation_split:  # the objective is measured on validation data
            self.settings = replace(self.settings, validation_split=0.2)
        self.objective = spec.objective or default_objective(settings)
        self.maximize = maximize(self.objective)
        self.store, self.project_id, self.artifact_dir, self.owner = store, project_id, artifact_dir, owner
        self.id = "search-" + secrets.token_urlsafe(8)
        self.status = "queued"
        self.message: str | None = None
        self.created = time.time()
        self.started: float | None = None
        self.ended: float | None = None
        self.trials: list[Trial] = []
        self.current = None  # the TrainingJob of the running trial
        self.queue_position = 0
        self.budget_hit = False
        self._stop = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._weights: dict[str, dict] = {}  # KerasTuner trial id -> trained weights (Hyperband continues them)
        self._numbers: dict[str, int] = {}  # KerasTuner trial id -> our trial number
        self._tuner = None

    # -- control (start, wait, active: BackgroundJob) --------------------------
    def stop(self) -> None:
        """Ends the search: the running trial stops at its next batch (its epochs so far count); no new trial."""
        self._stop.set()
        current = self.current
        if current is not None:
            current.stop()
        self._end_if_waiting()

    def best(self) -> Trial | None:
        done = [t for t in self.trials if t.status == "ok" and t.score is not None]
        if not done:
            return None
        # Ties (a small validation set gives few distinct accuracies) go to the lower validation loss, then to the
        # smaller model, then to the earlier trial.
        sign = 1 if self.maximize else -1
        return max(done, key=lambda t: (sign * t.score, -(t.val_loss if t.val_loss is not None else math.inf),
                                        -(t.total_params or 0), -t.number))

    def snapshot(self) -> dict:
        with self._lock:
            trials = [t.to_dict() for t in self.trials]
            current = self.current
        best = self.best()
        now = self.ended or time.time()
        return {
            "id": self.id, "kind": "search", "status": self.status, "message": self.message,
            "objective": self.objective, "maximize": self.maximize, "tuner": self.spec.tuner,
            "max_trials": self.spec.max_trials, "max_minutes": self.spec.max_minutes,
            "elapsed_s": now - self.created, "trials": trials, "best": best.to_dict() if best else None,
            "current": current.snapshot() if current is not None and current.active else None,
            "queue_position": self.queue_position, "budget_hit": self.budget_hit,
            "space": {d.key: d.describe() for d in self.spec.dims},
        }

    def result(self) -> dict:
        """CONTRACT.md's `tune --json` object: objective, best {values, score}, trials [{values, score, status,
        total_params}]."""
        best = self.best()
        return {
            "objective": self.objective,
            "best": {"values": {k: _plain(v) for k, v in best.values.items()}, "score": best.score} if best else None,
            "trials": [{"values": {k: _plain(v) for k, v in t.values.items()}, "score": t.score, "status":
                        "ok" if t.status == "ok" else "failed", "total_params": t.total_params,
                        **({"reason": t.reason} if t.reason else {}), "test": t.test, "run_id": t.run_id}
                       for t in self.trials],
        }

    def best_graph(self) -> Graph | None:
        """The graph with the best trial's values set (its `search` field kept)."""
        best = self.best()
        return None if best is None else apply_values(self.graph, best.values)

    # -- the thread --------------------------------------------------------------
    def _set_status(self, status: str, message: str | None = None) -> None:
        with self._lock:
            self.status, self.message = status, message

    def _end(self, status: str, message: str | None = None) -> None:
        with self._lock:
            self.status, self.message, self.ended = status, message, time.time()
        self._done.set()

    def _deadline_passed(self) -> bool:
        return self.spec.max_minutes is not None and time.time() - self.created > self.spec.max_minutes * 60

    def _run(self) -> None:
        workdir = None
        try:
            if self._stop.is_set():
                return self._end("stopped", "Stopped before it started.")
            self._set_status("compiling")
            from builder.kerasenv import load_keras

            load_keras()
            workdir = tempfile.mkdtemp(prefix="layercanvas-search-")
            self._tuner = self._make_tuner(workdir)
            self.started = time.time()
            self._set_status("running")
            self._tuner.search(verbose=0)
            ok = [t for t in self.trials if t.status == "ok"]
            if self._stop.is_set():
                self._end("stopped", f"Stopped after {len(self.trials)} trial(s); the finished ones are kept.")
            elif not ok:
                reasons = [t.reason for t in self.trials if t.reason]
                self._end("failed", "Every trial failed" + (f": {reasons[0]}" if reasons else "."))
            elif self.budget_hit:
                self._end("finished", f"The time budget ({self.spec.max_minutes:g} min) ended the search after "
                                      f"{len(self.trials)} trial(s).")
            else:
                self._end("finished")
        except Exception as e:  # noqa: BLE001 - the search fails with a message; the thread never raises
            from builder.train.training import _failure_message

            self._end("failed", _failure_message(e))
        finally:
            if workdir:
                shutil.rmtree(workdir, ignore_errors=True)

    def _make_tuner(self, workdir: str):
        import keras_tuner as kt

        with contextlib.suppress(ImportError, AttributeError):  # KerasTuner prints every failed trial's traceback
            from keras_tuner.src import (
                config as kt_config,  # when DEBUG is on (its default): ours are messages
            )

            kt_config.DEBUG = False

        spec = self.spec
        cls = _tuner_class(spec.tuner)
        kwargs = {"hypermodel": _hypermodel(spec), "directory": workdir, "project_name": "search", "overwrite": True,
                  "objective": kt.Objective(self.objective, "max" if self.maximize else "min"),
                  "seed": self.settings.seed, "max_retries_per_trial": 0,
                  "max_consecutive_failed_trials": spec.max_trials + 1}
        if spec.tuner == "hyperband":
            kwargs.update(max_epochs=max(2, self.settings.epochs), factor=3, hyperband_iterations=1)
        else:
            kwargs["max_trials"] = spec.max_trials
        tuner = cls(self, **kwargs)
        tuner.oracle.max_trials = spec.max_trials  # Hyperband too: the trial budget
        # Trials that fail are part of the search; KerasTuner would otherwise print each traceback.
        tuner.oracle.verbose = 0
        return tuner

    def _stop_new_trials(self) -> None:
        oracle = self._tuner.oracle
        oracle.max_trials = max(1, len(oracle.trials))

    def _run_trial(self, kt_trial) -> dict:
        """Runs one KerasTuner trial as a TrainingJob; returns {objective: best value} or raises FailedTrialError."""
        import keras_tuner as kt

        from builder.train.training import TrainingJob

        if self._stop.is_set() or self._deadline_passed():
            self.budget_hit = self.budget_hit or self._deadline_passed()
            self._stop_new_trials()
            raise kt.errors.FailedTrialError("the search was stopped")
        hp_values = dict(kt_trial.hyperparameters.values)
        values = values_of(hp_values, self.spec)
        trial = Trial(number=len(self.trials) + 1, values=values)
        self._numbers[kt_trial.trial_id] = trial.number
        with self._lock:
            self.trials.append(trial)
        start = time.time()
        try:
            graph = apply_values(self.graph, values)
            settings = trial_settings(self.settings, values)
            weights = None
            if "tuner/epochs" in hp_values:  # Hyperband: this round's epochs, continuing an earlier trial
                epochs = int(hp_values["tuner/epochs"]) - int(hp_values.get("tuner/initial_epoch", 0))
                settings = replace(settings, epochs=max(1, epochs))
                past = hp_values.get("tuner/trial_id")
                if past:
                    weights = self._weights.get(past)
                    trial.continues = self._numbers.get(past)
            settings.check()
            self._check_graph(graph, trial)
        except Exception as e:  # noqa: BLE001 - an invalid combination fails this trial only
            return self._fail(trial, start, _reason(e))
        run_id = None
        if self.store is not None:
            with contextlib.suppress(Exception):
                run_id = self.store.create_run(
                    self.project_id, graph, {**settings.to_dict(), "search": {"id": self.id, "trial": trial.number,
                                                                              "values": trial.to_dict()["values"]}},
                    self.dataset.name, owner=self.owner)
        # The TensorBoard graph (about 50 ms) only for the first trial: the others differ in sizes, not in shape.
        job = TrainingJob(graph, self.dataset, settings, weights=weights, store=self.store if run_id else None,
                          project_id=self.project_id, artifact_dir=self.artifact_dir, run_id=run_id, owner=self.owner,
                          log_graph=trial.number == 1)
        trial.run_id = job.id if run_id else None
        with self._lock:
            self.current = job
        job.start()
        while not job.wait(0.2):
            if self._stop.is_set() or self._deadline_passed():
                self.budget_hit = self.budget_hit or (self._deadline_passed() and not self._stop.is_set())
                job.stop()
        with self._lock:
            self.current = None
        trial.seconds = time.time() - start
        trial.epochs = len(job.history)
        if job.model is not None:
            with contextlib.suppress(Exception):
                trial.total_params = int(job.model.count_params())
        if job.status == "failed":
            return self._fail(trial, start, job.message or "training failed")
        scores = [row[self.objective] for row in job.history if isinstance(row.get(self.objective), (int, float))
                  and math.isfinite(row[self.objective])]
        if not scores:
            if not any(self.objective in row for row in job.history) and job.history:
                return self._fail(trial, start, f"the model reports no {self.objective} (it has "
                                                f"{', '.join(k for k in job.history[-1] if k != 'epoch')})")
            return self._fail(trial, start, job.message or "no epoch finished", status="stopped")
        trial.score = float((max if self.maximize else min)(scores))
        best_row = next(row for row in job.history if row.get(self.objective) == trial.score)
        trial.val_loss = best_row.get("val_loss") if isinstance(best_row.get("val_loss"), (int, float)) else None
        trial.test = dict((job.result or {}).get("metrics") or {})
        self._weights[kt_trial.trial_id] = job.trained_weights()
        stopped = job.status == "stopped" or self._stop.is_set()
        with self._lock:
            trial.status = "stopped" if stopped and (job.history and job.history[-1].get("partial")
                                                     or trial.epochs < settings.epochs) else "ok"
            if trial.status == "stopped":
                trial.reason = job.message
        if self._stop.is_set() or self._deadline_passed():
            self._stop_new_trials()
        return {self.objective: trial.score}

    def _check_graph(self, graph: Graph, trial: Trial) -> None:
        """Builds the trial's graph once: its problems fail the trial (naming the node); its cost is recorded."""
        from builder.model.build import build
        from builder.model.profile import profile
        from builder.model.validate import errors

        result = build(graph)
        problems = errors(result.issues)
        if problems:
            first = problems[0]
            raise SearchError(f"{first.node_id}: {first.message}" if first.node_id else first.message)
        with contextlib.suppress(Exception):
            cost = profile(result)
            trial.macs, trial.total_params = int(cost.total_macs), int(cost.total_params)

    def _fail(self, trial: Trial, start: float, reason: str, status: str = "failed"):
        import keras_tuner as kt

        with self._lock:
            trial.status, trial.reason, trial.seconds = status, reason, time.time() - start
        if self._stop.is_set() or self._deadline_passed():
            self._stop_new_trials()
        raise kt.errors.FailedTrialError(reason)


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:300]
