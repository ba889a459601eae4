"""Fuzz cases and their oracle, shared by `bench/fuzz.py` (10,000 cases) and `tests/test_fuzz.py` (the CI sample).

Four targets, each fed by hypothesis strategies and run through the public API:

- `graph`: graph files (random JSON, mutated templates and generated graphs, damaged text) -> `Graph.loads` ->
  dumps/loads round trip -> `check_structure` -> build -> `summarize` -> `generate_code` (compiled, and run when
  the model built: it must build the same model) -> sometimes `generate_script`.
- `params`: one catalog layer in a minimal graph (tests/layer_cases.py); a value, plausible or hostile (wrong types,
  huge ints, NaN, inf, text, nested lists, unicode, Python-only values), set through the edit API (`set_param`,
  `set_params`, `add_node`, `layer.x` of a wrapper); then the same pipeline as a graph.
- `datasets`: CSV, NPZ and image-zip uploads (random bytes, damaged valid files, wrong formats, hostile tables,
  arrays and headers, unsafe names, zip bombs, forged sizes) -> `parse_csv` / `parse_npz` / `parse_image_zip`.
- `importer`: model files (valid, truncated, flipped, random, wrong formats, Lambda, zips of text, mutated configs,
  forged sizes, over the size cap) -> `import_model`.

The oracle: every case ends in a result or a refusal. A refusal is an exception of the target's expected class (or,
for graphs, build issues) whose message is plain: see `message_problem`. Results are checked too (a graph survives
dumps/loads, generated code builds the same model, a Dataset keeps its promises, an imported graph validates).
Anything else is a crash, and so is a case slower than SLOW_SECONDS or one that raises the process's peak memory by
more than MEMORY_JUMP_MB. Cases are recipes (small, printable); the bytes are made when a case runs, so a crash
report reproduces it.
"""

from __future__ import annotations

import ast
import copy
import gc
import io
import json
import math
import os
import re
import signal
import struct
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import hypothesis
import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from builder.model.catalog import LAYERS, STARTERS
from builder.model.graph import ID_RE, Graph, GraphError
from tests.layer_cases import CASES, case_graph
from tests.strategies import JSONISH, TYPES, graphs, value_for

# A build in the fuzzer refuses layers above this many weights (the app allows 250 million): the verdict is the
# same, and a case never allocates more than a few MB.
FUZZ_MAX_PARAMS = 2_000_000
FUZZ_WARN_PARAMS = 500_000
CASE_SECONDS = 120  # a case that runs longer is stopped: a crash (a hang)
SLOW_SECONDS = 20  # a case that takes longer is a crash too (the slowest honest ones take about 1 s)
MEMORY_JUMP_MB = 1500  # so is a case that raises the process's peak memory by more (a small file costing GBs)


# ---------------------------------------------------------------------------
# The oracle
# ---------------------------------------------------------------------------
_INTERNAL = re.compile(
    r"Traceback \(most recent|\b(KeyError|TypeError|AttributeError|IndexError|NameError|UnboundLocalError|"
    r"RecursionError|ZeroDivisionError|OverflowError|AssertionError|NotImplementedError|StopIteration)\b"
    r"|object has no attribute|object is not subscriptable|unhashable type|unsupported operand type"
    r"|object is not iterable|object is not callable|takes \d+ positional argument|required positional argument"
    r"|unexpected keyword argument"
    r"|index out of range|not supported between instances|cannot be interpreted as an integer"
    r"|<[A-Za-z_][\w.]* object at 0x[0-9a-fA-F]+>"
)
MAX_MESSAGE = 4000


def message_problem(message: Any) -> str | None:
    """What is wrong with a refusal's message, or None when it is plain.

    A plain message is non-empty text on one line, at most MAX_MESSAGE characters, without a traceback, without
    the words of a Python internal error (`KeyError`, "object has no attribute", an object's repr with its
    address) and not a bare repr (`'x'`, `42`).
    """
    if not isinstance(message, str) or not message.strip():
        return "empty message"
    if "\n" in message.strip() or "\r" in message.strip():
        return "message on several lines"
    if len(message) > MAX_MESSAGE:
        return f"message of {len(message)} characters"
    m = _INTERNAL.search(message)
    if m:
        return f"message leaks an internal error ({m.group(0)!r})"
    if re.fullmatch(r"\s*('[^']*'|\"[^\"]*\"|-?\d+(\.\d+)?|\(.*\)|\[.*\]|None)\s*", message):
        return "message is a bare repr"
    return None


class CaseTimeout(BaseException):  # BaseException: `except Exception` in the code under test must not swallow it
    """A case ran longer than CASE_SECONDS."""


class OracleFailure(Exception):
    """The code under test returned, but what it returned is wrong (a crash in the table)."""


@dataclass(frozen=True)
class Case:
    """A recipe: `kind` says how it was made, `args` are everything needed to make it again."""

    kind: str
    args: tuple

    def describe(self, limit: int = 400) -> str:
        old = sys.get_int_max_str_digits()
        sys.set_int_max_str_digits(0)  # a case may hold 10**5000, which repr refuses by default
        try:
            text = f"{self.kind} {self.args!r}"
        finally:
            sys.set_int_max_str_digits(old)
        return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class Crash:
    kind: str  # exception class, or "bad message", "oracle", "hang"
    message: str
    case: str
    where: str  # last frames of the traceback


@dataclass
class Tally:
    """What one target's cases ended in."""

    target: str
    cases: int = 0
    successes: int = 0
    refusals: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)  # refusal class -> {message shape: its first message}
    crashes: list = field(default_factory=list)
    seconds: float = 0.0
    slowest: list = field(default_factory=list)  # (seconds, case)
    kinds: Counter = field(default_factory=Counter)  # case kind -> count
    by_label: Counter = field(default_factory=Counter)  # (finer class of input, success|refusal|crash) -> count
    reasons: dict = field(default_factory=dict)  # refusal class -> Counter of message shapes (see `signature`)

    @property
    def refused(self) -> int:
        return sum(self.refusals.values())

    def refuse(self, key: str, message: str) -> None:
        self.refusals[key] += 1
        reason = signature(message)
        reasons = self.reasons.setdefault(key, Counter())
        reasons[reason] += 1
        if reasons[reason] == 1:  # the first message of each shape is its example
            self.examples.setdefault(key, {})[reason] = message if len(message) <= 160 else message[:157] + "..."


_TYPE_WORDS = re.compile(r"\b(" + "|".join(sorted(LAYERS, key=len, reverse=True)) + r")\b")


def signature(message: str) -> str:
    """A message's shape: quoted text, names and numbers blanked, the first 8 words; groups refusals by reason."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "…", message)
    text = _TYPE_WORDS.sub("Layer", text)
    text = re.sub(r"\b[\w.-]+\.(csv|npz|zip|keras|h5|png|jpg)\b", "FILE", text)
    text = re.sub(r"[-+]?\d[\d,._]*(e[-+]?\d+)?", "N", text)
    text = re.sub(r"\([^()]*\)", "(…)", text)
    return " ".join(text.split()[:8])


def value_class(v: Any) -> str:
    """What kind of value a fuzzed parameter got, for the report."""
    if v is None or isinstance(v, bool):
        return repr(v)
    if isinstance(v, int):
        return "huge int" if abs(v) > 2**31 else "negative int" if v < 0 else "int"
    if isinstance(v, float):
        return "NaN" if math.isnan(v) else "inf" if math.isinf(v) else "float"
    if isinstance(v, str):
        return "empty text" if not v else "text" if v.isprintable() else "text with control characters"
    if isinstance(v, (list, dict)):
        return "list" if isinstance(v, list) else "object"
    return "a Python value no JSON holds (bytes, tuple, set, complex, numpy)"


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    return " <- ".join(f"{os.path.relpath(f.filename)}:{f.lineno} {f.name}" for f in reversed(frames))


def _on_alarm(signum, frame):
    raise CaseTimeout(f"the case ran longer than {CASE_SECONDS} s")


def record(target: Target, case: Case, tally: Tally) -> None:
    """Runs one case and files its outcome."""
    tally.cases += 1
    tally.kinds[case.kind] += 1
    crash = None
    timer = hasattr(signal, "setitimer") and _main_thread()
    if timer:
        old = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
    start, peak = time.perf_counter(), _peak_mb()
    try:
        outcome = target.run(case)
        if outcome is not None and message_problem(outcome[1]):
            crash = Crash("bad message", f"{message_problem(outcome[1])}: {outcome[1][:300]}", case.describe(), outcome[0])
    except target.expected as e:
        outcome = (type(e).__name__, str(e))
        if message_problem(str(e)):
            crash = Crash("bad message", f"{message_problem(str(e))}: {str(e)[:300]}", case.describe(), _where(e))
    except CaseTimeout as e:
        crash = Crash("hang", str(e), case.describe(), _where(e))
    except OracleFailure as e:
        crash = Crash("oracle", str(e)[:500], case.describe(), _where(e))
    except Exception as e:  # noqa: BLE001 - this is what the fuzzer looks for
        crash = Crash(type(e).__name__, str(e)[:500], case.describe(), _where(e))
    finally:
        elapsed = time.perf_counter() - start
        if timer:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        tally.seconds += elapsed
        tally.slowest = sorted(tally.slowest + [(elapsed, case.describe(200))], reverse=True)[:3]
    if crash is None and elapsed > SLOW_SECONDS:
        crash = Crash("slow", f"the case took {elapsed:.0f} s", case.describe(), "")
    if crash is None and _peak_mb() - peak > MEMORY_JUMP_MB:
        crash = Crash("memory", f"the case raised peak memory by {_peak_mb() - peak:,.0f} MB", case.describe(), "")
    if crash is not None:
        tally.crashes.append(crash)
        verdict = "crash"
    elif outcome is None:
        tally.successes += 1
        verdict = "success"
    else:
        tally.refuse(*outcome)
        verdict = "refusal"
    tally.by_label[target.label(case), verdict] += 1
    if tally.cases % 200 == 0:
        gc.collect()


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def fuzz(name: str, n: int, seed: int = 0, progress=None, fixed: bool = True) -> Tally:
    """Runs `n` cases of one target: its fixed cases first (unless `fixed` is False), then cases drawn by
    hypothesis from `seed`.

    The same seed gives the same cases (hypothesis's generation phase only, no database, no shrinking).
    """
    target = TARGETS[name]()
    tally = Tally(name)
    fixed = target.fixed()[:n] if fixed else []
    for case in fixed:
        record(target, case, tally)
    rest = n - len(fixed)
    if rest <= 0:
        return tally

    @settings(max_examples=rest, database=None, deadline=None, derandomize=False, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    @hypothesis.seed(seed)
    @given(target.strategy())
    def run(case):
        record(target, case, tally)
        if progress is not None:
            progress(tally)

    run()
    return tally


# ---------------------------------------------------------------------------
# Hostile values, shared by the targets
# ---------------------------------------------------------------------------
HUGE_INTS = (2**31 - 1, 2**31, 2**32 + 1, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**30),
             10**400, -(10**400))
ODD_FLOATS = (math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1e-45, 0.999999, 1.0000001, 2.5, 3.4e38, 3.5e38,
              1e308, -1e308)
ODD_TEXT = (
    "", " ", "\t", "None", "null", "true", "relu", "Relu", "same", "SAME", "valid ", "float32", "int8", "string",
    "glorot_uniform", "Dense", "Lambda", "é", "ß", "İ", "\u202e", "\u200b", "\x00", "\x1b[31m", "line\nbreak",
    "a" * 300, "'", '"', "\\", "'''", '"""', "{}", "[]", "%s%s", "../../etc/passwd", "C:\\Windows", "<b>x</b>",
    "__import__('os').system('echo pwned')", "😀", "𝕏", "١٢", "NaN", "-Infinity", "1e999", "0x1F",
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 70), st.sampled_from(HUGE_INTS), st.integers(),
    st.sampled_from(ODD_FLOATS), st.floats(), st.sampled_from(ODD_TEXT), st.text(max_size=10),
)
KEYS = st.sampled_from(["type", "params", "units", "l1", "l2", "shape", "id", "", "class_name", "config"]) | st.text(max_size=6)
HOSTILE = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=4),
                       max_leaves=12)
# Values no JSON file holds, which a Python caller of the edit API might pass.
PY_ONLY = st.sampled_from([b"bytes", (1, 2), (3,), complex(1, 2), {1, 2}, frozenset(), range(3), np.int64(5),
                           np.float32(0.5), np.array([1, 2]), np.nan, [[[[[[[[1]]]]]]]], 10**5000])
ODD_IDS = ("", "1a", "a b", "a-b", "é", "a" * 64, "a" * 65, "None", "True", "class", "def", "lambda", "keras",
           "layers", "model", "build_model", "np", "tf", "__class__", "__builtins__", "_", "self", "print", "input",
           "Input", "x", "input_1", "in0", "dense_lstm", 7, None, ["a"])


def _one_in(draw, n: int) -> bool:
    """True about once in `n` draws (`st.integers(0, n - 1)` would favour 0, its smallest value)."""
    return draw(st.sampled_from(range(n))) == 0


def _weighted(draw, *choices: tuple[int, Any]):
    """Draws from one of several strategies, picked with the given weights (`one_of` weighs them all alike)."""
    i = draw(st.sampled_from(range(sum(w for w, _ in choices))))  # integers() favours 0
    for weight, strategy in choices:
        if i < weight:
            return draw(strategy)
        i -= weight
    raise AssertionError


# ---------------------------------------------------------------------------
# Graph files
# ---------------------------------------------------------------------------
def _paths(doc: Any, depth: int = 0, prefix: tuple = ()) -> list[tuple]:
    """Every (container path, key) in a JSON tree, to pick one to change."""
    out = []
    if depth > 8:
        return out
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for k, v in items:
        out.append(prefix + (k,))
        out.extend(_paths(v, depth + 1, prefix + (k,)))
    return out


def _at(doc: Any, path: tuple) -> Any:
    for k in path:
        doc = doc[k]
    return doc


GRAPH_OPS = ("replace", "delete", "param", "param", "param", "type", "id", "edge", "cycle", "dup_node", "outputs",
             "top", "layout", "compile", "drop_inputs", "wrapper", "port")
COMPILE = st.fixed_dictionaries({}, optional={
    "optimizer": st.sampled_from(["adam", "sgd", "rmsprop", "nope", ""]) | HOSTILE,
    "learning_rate": st.sampled_from([0.001, 0, -1, 1e3, 1e300]) | HOSTILE,
    "loss": st.sampled_from(["mse", "sparse_categorical_crossentropy", "nope"]) | HOSTILE,
    "from_logits": st.booleans() | HOSTILE,
    "metrics": st.lists(st.sampled_from(["accuracy", "mae", "nope"]) | HOSTILE, max_size=3) | HOSTILE,
}) | HOSTILE
TRAINING = st.fixed_dictionaries({}, optional={
    "dataset": st.sampled_from(["iris", "mnist", "nope", "../x.npz"]) | HOSTILE,
    "epochs": st.integers(-5, 10**6) | HOSTILE,
    "batch_size": st.integers(-5, 10**6) | HOSTILE,
    "validation_split": st.floats() | HOSTILE,
}) | HOSTILE


@st.composite
def _mutate_graph_doc(draw, doc: dict, most: int = 4) -> tuple[dict, list[str]]:
    """A graph file's JSON object with 1 to `most` random changes; returns it and the changes' names."""
    doc = copy.deepcopy(doc)
    done = []
    for _ in range(draw(st.integers(1, most))):
        op = draw(st.sampled_from(GRAPH_OPS))
        nodes = doc.get("nodes") if isinstance(doc.get("nodes"), list) else []
        real = [n for n in nodes if isinstance(n, dict)]
        ids = [n.get("id") for n in real]
        if op == "replace":
            paths = _paths(doc)
            if paths:
                path = draw(st.sampled_from(paths))
                _at(doc, path[:-1])[path[-1]] = draw(HOSTILE)
        elif op == "delete":
            paths = _paths(doc)
            if paths:
                path = draw(st.sampled_from(paths))
                parent = _at(doc, path[:-1])
                del parent[path[-1]]
        elif op == "param" and real:
            node = draw(st.sampled_from(real))
            spec = LAYERS.get(node.get("type")) if isinstance(node.get("type"), str) else None
            names = [p.name for p in spec.params] if spec and spec.params else ["units"]
            name = draw(st.sampled_from(names) | st.text(max_size=8))
            ps = spec.param(name) if spec else None
            value = _weighted(draw, (1, value_for(ps)), (1, HOSTILE)) if ps else draw(HOSTILE)
            if not isinstance(node.get("params"), dict):
                node["params"] = {}
            node["params"][name] = value
        elif op == "type" and real:
            node = draw(st.sampled_from(real))
            node["type"] = draw(st.sampled_from(TYPES) | st.sampled_from(["Lambda", "", "dense", "InputLayer",
                                                                           "Model", None, 5, "Dense "]))
        elif op == "id" and real:
            node = draw(st.sampled_from(real))
            old, new = node.get("id"), draw(st.sampled_from(ODD_IDS) | st.from_regex(ID_RE, fullmatch=True))
            node["id"] = new
            if draw(st.booleans()) and isinstance(doc.get("edges"), list):  # keep the edges pointing at it
                for e in doc["edges"]:
                    if isinstance(e, dict):
                        for end in ("source", "target"):
                            if e.get(end) == old:
                                e[end] = new
        elif op == "edge":
            pool = st.sampled_from(ids + ["ghost"]) if ids else st.just("ghost")
            edge = {"source": draw(pool | st.sampled_from(ODD_IDS)), "target": draw(pool)}
            if draw(st.booleans()):
                edge["port"] = draw(st.integers(-2, 4) | HOSTILE)
            doc.setdefault("edges", [])
            if isinstance(doc["edges"], list):
                doc["edges"].append(edge)
        elif op == "cycle" and len(ids) > 2 and isinstance(doc.get("edges"), list):
            doc["edges"].append({"source": ids[-1], "target": ids[draw(st.integers(1, len(ids) - 1))]})
        elif op == "dup_node" and real:
            nodes.insert(draw(st.integers(0, len(nodes))), copy.deepcopy(draw(st.sampled_from(real))))
        elif op == "outputs":
            doc["outputs"] = draw(st.lists(st.sampled_from(ids + ["ghost"]) if ids else st.just("ghost"), max_size=3)
                                  | HOSTILE)
        elif op == "top":
            key = draw(st.sampled_from(["format", "version", "name", "nodes", "edges", "layout", "extra_field"]))
            doc[key] = draw(HOSTILE | st.sampled_from([2, 0, -1, 1.0, True, "1", "layercanvas-graph", 10**400]))
        elif op == "layout":
            doc["layout"] = {str(i): draw(st.lists(SCALARS, max_size=3)) for i in ids[:4] if isinstance(i, str)}
        elif op == "compile":
            doc[draw(st.sampled_from(["compile", "training"]))] = draw(COMPILE | TRAINING)
        elif op == "drop_inputs":
            doc["nodes"] = [n for n in nodes if not (isinstance(n, dict) and n.get("type") == "Input")]
        elif op == "wrapper" and real:
            node = draw(st.sampled_from(real))
            node["type"] = draw(st.sampled_from(["Bidirectional", "TimeDistributed"]))
            inner_type = draw(st.sampled_from(TYPES) | st.sampled_from(["Lambda", "", None]))
            node["params"] = {"layer": draw(st.fixed_dictionaries(
                {"type": st.just(inner_type), "params": st.just(dict(STARTERS.get(inner_type, {}))) | HOSTILE})
                | HOSTILE)}
        elif op == "port" and isinstance(doc.get("edges"), list) and doc["edges"]:
            edge = draw(st.sampled_from(doc["edges"]))
            if isinstance(edge, dict):
                edge["port"] = draw(st.integers(-1, 5) | HOSTILE)
        else:
            continue
        done.append(op)
    return doc, done


TEXT_TOKENS = (",", "]", "}", "{", "[", '"', "\\", "\x00", "NaN", "Infinity", "-Infinity", "1e999", "-1e999",
               "1" + "0" * 400, "1" + "0" * 5000, "\\ud800", "\ufeff", "true", "null", "//", "/*", "'")


def _nest(depth: int) -> str:
    return "[" * depth + "]" * depth


@st.composite
def _damage_text(draw, text: str) -> tuple[str | bytes, str]:
    """The text of a valid file, damaged the way files are: cut, an odd token, a number out of range, encoding."""
    how = draw(st.sampled_from(["truncate", "token", "number", "nesting", "encoding", "bytes"]))
    if how == "truncate":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))], how
    if how == "token":
        i = draw(st.integers(0, len(text)))
        return text[:i] + draw(st.sampled_from(TEXT_TOKENS)) + text[i:], how
    if how == "number":  # one number becomes inf, a 400-digit integer or a tiny float
        numbers = list(re.finditer(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text))
        if not numbers:
            return text, how
        m = draw(st.sampled_from(numbers))
        new = draw(st.sampled_from(["1e999", "-1e999", "1" + "0" * 400, "-" + "9" * 400, "1e-999", "0.5", "-1"]))
        return text[: m.start()] + new + text[m.end():], how
    if how == "nesting":  # deeply nested arrays where a value goes
        depth = draw(st.sampled_from([50, 500, 900, 990, 1500, 100_000]))
        values = list(re.finditer(r":\s*", text))
        if not values:
            return _nest(depth), how
        m = draw(st.sampled_from(values))
        end = re.match(r'"[^"]*"|[^,}\]]*', text[m.end():]).end()
        return text[: m.end()] + _nest(depth) + text[m.end() + end:], how
    if how == "encoding":
        enc = draw(st.sampled_from(["utf-8-sig", "utf-16", "utf-32", "latin-1"]))
        return text.encode(enc, errors="replace"), how + " " + enc
    data = bytearray(text.encode("utf-8"))
    for _ in range(draw(st.integers(1, 6))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data), how


@cache
def _template_docs() -> dict[str, dict]:
    from builder.model.templates import TEMPLATES, template

    return {k: template(k).to_dict() for k in sorted(TEMPLATES)}


@st.composite
def graph_cases(draw) -> Case:
    kind = draw(st.sampled_from(["json", "fields", "template", "template", "template", "generated", "generated",
                                 "text", "text"]))
    script = _one_in(draw, 10)
    if kind == "json":
        value = draw(HOSTILE | JSONISH)
        return Case("json", (json.dumps(value, allow_nan=True), script, "", "any JSON value"))
    if kind == "fields":
        value = draw(st.dictionaries(st.sampled_from(["format", "version", "name", "nodes", "edges", "outputs",
                                                      "layout", "compile", "training"]), HOSTILE | JSONISH))
        value.setdefault("format", "layercanvas-graph")
        value.setdefault("version", 1)
        return Case("fields", (json.dumps(value, allow_nan=True), script, "", "right format, random fields"))
    if kind in ("template", "generated") or draw(st.booleans()):  # text: half the time a whole graph's file
        if kind == "template" or (kind == "text" and draw(st.booleans())):
            key = draw(st.sampled_from(sorted(_template_docs())))
            source, doc = f"template:{key}", copy.deepcopy(_template_docs()[key])
        else:
            source = "generated"
            doc = json.loads(draw(graphs()).dumps())
        ops: list[str] = []
        if kind == "template" or draw(st.booleans()):  # generated graphs are half the time left as they are
            doc, ops = draw(_mutate_graph_doc(doc))
        script = script or any(op == "compile" for op in ops)
        text = json.dumps(doc, allow_nan=True)
        if kind == "text":
            damaged, how = draw(_damage_text(text))
            return Case("text", (damaged, script, f"{source} {'+'.join(ops)} {how}".strip(), f"damaged text: {how}"))
        label = f"{kind} graph, " + ("changed (1 to 4 edits of the file)" if ops else "as is")
        return Case(kind, (text, script, f"{source} {'+'.join(ops)}".strip(), label))
    text = json.dumps(_template_docs()["mlp"])
    damaged, how = draw(_damage_text(text))
    return Case("text", (damaged, script, f"template:mlp {how}", f"damaged text: {how}"))


def _check_issues(result, graph: Graph) -> None:
    for issue in result.issues:
        problem = message_problem(issue.message)
        if problem:
            raise OracleFailure(f"issue {issue.code} of {issue.node_id}: {problem}: {issue.message[:300]}")
        if issue.node_id is not None and not graph.has(issue.node_id):
            raise OracleFailure(f"issue {issue.code} names a node that does not exist: {issue.node_id!r}")


def _check_size_limit(result, builder) -> None:
    for nid, info in result.infos.items():
        if info.params > builder.max_params:
            raise OracleFailure(f"node {nid} was built with {info.params:,} weights; the limit is {builder.max_params:,}")


def _exec_generated(code: str, model) -> None:
    """Runs generated code; it must build the same model (house rule 5)."""
    namespace: dict = {}
    exec(compile(code, "<generated>", "exec"), namespace)
    again = namespace["build_model"]()
    if again.count_params() != model.count_params():
        raise OracleFailure(f"generated code builds {again.count_params():,} weights, the graph {model.count_params():,}")
    a = json.dumps(again.get_config(), sort_keys=True, default=str)
    b = json.dumps(model.get_config(), sort_keys=True, default=str)
    if a != b:
        raise OracleFailure("generated code builds a model whose config differs from the graph's")


def graph_pipeline(graph: Graph, builder, script: bool) -> tuple[str, str] | None:
    """Everything the app and the CLI do with a graph: round trip, checks, build, summary, code, script.

    Returns None when the model built, else (the first error's code, its message).
    """
    from builder.files.codegen import CodegenError, generate_code, generate_script
    from builder.model.summary import summarize, summary_text
    from builder.model.validate import check_structure

    again = Graph.loads(graph.dumps())
    if again != graph:
        raise OracleFailure("the graph changed through dumps/loads")
    structure = check_structure(graph)
    result = builder.build(graph)
    _check_issues(result, graph)
    _check_size_limit(result, builder)
    if [i.line() for i in structure] != [i.line() for i in result.issues][: len(structure)]:
        raise OracleFailure("build issues do not start with the structure issues")
    if result.errors and result.model is not None:
        raise OracleFailure("a model was built despite errors")
    summary = summarize(result)
    json.dumps(summary.to_json(), allow_nan=False)
    summary.table()
    if result.model is not None:
        summary_text(result.model)
        if summary.total_params != result.model.count_params():
            raise OracleFailure(f"summary counts {summary.total_params:,}, Keras {result.model.count_params():,}")
    try:
        code = generate_code(graph)
    except CodegenError as e:
        if not [i for i in structure if i.severity == "error"]:
            raise OracleFailure(f"codegen refused a graph without structural errors: {e}") from None
        problem = message_problem(str(e))
        if problem:
            raise OracleFailure(f"CodegenError: {problem}: {str(e)[:300]}") from None
    else:
        compile(code, "<generated>", "exec")
        if result.model is not None:
            _exec_generated(code, result.model)
    if script:
        try:
            compile(generate_script(graph), "<script>", "exec")
        except CodegenError as e:
            problem = message_problem(str(e))
            if problem:
                raise OracleFailure(f"CodegenError: {problem}: {str(e)[:300]}") from None
    if result.errors:
        first = result.errors[0]
        return f"issue {first.code}", first.message
    return None


class Target:
    name = ""
    expected: tuple = ()

    def strategy(self):
        raise NotImplementedError

    def fixed(self) -> list[Case]:
        return []

    def run(self, case: Case):
        raise NotImplementedError

    def label(self, case: Case) -> str:
        """The class of input a case belongs to, for the report (finer than its kind where that helps)."""
        return case.kind


class _Builders:
    """A session's builder, as the app keeps one; renewed now and then so memory stays flat."""

    def __init__(self, every: int = 150):
        self.every, self.uses, self.builder = every, 0, None

    def get(self):
        from builder.model.build import ModelBuilder

        if self.builder is None or self.uses >= self.every:
            self.builder, self.uses = ModelBuilder(FUZZ_MAX_PARAMS, FUZZ_WARN_PARAMS), 0
        self.uses += 1
        return self.builder


class GraphTarget(Target):
    name = "graph"
    expected = (GraphError,)

    def __init__(self):
        self.builders = _Builders()

    def strategy(self):
        return graph_cases()

    def fixed(self) -> list[Case]:
        from builder.model.templates import TEMPLATES, template

        cases = [Case("template", (template(k).dumps(), True, f"template:{k} as is", "template graph, as is"))
                 for k in sorted(TEMPLATES)]
        deep = '{"format": "layercanvas-graph", "version": 1, "nodes": ' + _nest(100_000) + "}"
        big = json.dumps({"format": "layercanvas-graph", "version": 1, "nodes": [
            {"id": f"n{i}", "type": "Dense", "params": {"units": 2}} for i in range(2000)]})
        cases += [
            Case("text", (deep, False, "", "100,000 nested lists")),
            Case("text", (big, False, "", "2,000 nodes, none an Input")),
            Case("text", (b"\xff\xfe\x00\x00", False, "", "not UTF-8")),
            Case("text", ("", False, "", "empty file")),
        ]
        return cases

    def label(self, case: Case) -> str:
        return case.args[3]

    def run(self, case: Case):
        text, script = case.args[0], case.args[1]
        graph = Graph.loads(text)
        return graph_pipeline(graph, self.builders.get(), script)


# ---------------------------------------------------------------------------
# Parameter values through the edit API
# ---------------------------------------------------------------------------
ROWS = [(t, i) for t in sorted(CASES) for i in range(len(CASES[t]))]
ROWS_WITH_PARAMS = [(t, i) for t, i in ROWS if LAYERS[t].params]  # the rest take no setting but an unknown one
ODD_NAMES = ("", "unit", "Units", "layer", "name", "trainable", "dtype", "__class__", "layer.units", "units.x", "é")


@st.composite
def param_cases(draw) -> Case:
    type_, row = draw(st.sampled_from(ROWS if _one_in(draw, 10) else ROWS_WITH_PARAMS))
    spec = LAYERS[type_]
    hows = ["set_param", "set_param", "set_params", "add_node"] + (["wrapped", "wrapped"] if spec.wrapper else [])
    if spec.is_input:
        hows = ["set_param", "set_params"]
    how = draw(st.sampled_from(hows))
    inner = None
    target = LAYERS[type_]
    if how == "wrapped":
        inner = draw(st.sampled_from(spec.param("layer").layer_types))
        target = LAYERS[inner]
    names = [p.name for p in target.params]

    def one():
        name = _weighted(draw, (9 if names else 0, st.sampled_from(names or ["units"])), (1, st.sampled_from(ODD_NAMES)))
        ps = target.param(name)
        plausible = value_for(ps) if ps is not None else JSONISH
        return name, _weighted(draw, (5, plausible), (4, HOSTILE), (1, PY_ONLY))

    if how == "set_params":  # several settings at once: strides with dilation, kernel with padding...
        pairs = [one() for _ in range(draw(st.integers(1, 3)))]
        return Case(how, (type_, row, tuple(n for n, _ in pairs), tuple(v for _, v in pairs), inner))
    name, value = one()
    return Case(how, (type_, row, name, value, inner))


class ParamTarget(Target):
    name = "params"
    expected = (GraphError,)

    def __init__(self):
        self.builders = _Builders()

    def strategy(self):
        return param_cases()

    def fixed(self) -> list[Case]:
        # every row as it is: the starting points must all build; and one setting inside each wrapper's layer
        # (hypothesis's draws vary with what ran before in the process, and may reach no wrapper at all)
        wrapped = [Case("wrapped", (t, i, "units", 8, inner))
                   for t, i in ROWS if LAYERS[t].wrapper
                   for inner in LAYERS[t].param("layer").layer_types if LAYERS[inner].param("units") is not None][:4]
        return [Case("as_is", (t, i, None, None, None)) for t, i in ROWS] + wrapped

    def label(self, case: Case) -> str:
        if case.kind == "as_is":
            return "catalog row as is"
        if case.kind == "set_params" and len(case.args[3]) > 1:
            return "several settings at once"
        value = case.args[3][0] if case.kind == "set_params" else case.args[3]
        return "value: " + value_class(value)

    def run(self, case: Case):
        type_, row, name, value, inner = case.args
        inputs, params = CASES[type_][row]
        g = case_graph(type_, inputs, params)
        if case.kind == "set_param":
            g = g.set_param("layer", name, value)
        elif case.kind == "set_params":
            g = g.set_params("layer", {**params, **dict(zip(name, value, strict=False))})
        elif case.kind == "add_node":
            g = g.remove_node("layer")
            g, _ = g.add_node(type_, {**params, name: value}, node_id="layer")
            for i in range(len(inputs)):
                g = g.connect(f"in_{i}", "layer")
        elif case.kind == "wrapped":
            g = g.set_param("layer", "layer", {"type": inner, "params": dict(STARTERS.get(inner, {}))})
            g = g.set_param("layer", f"layer.{name}", value)
        from builder.model.validate import check_structure

        bad = [i for i in check_structure(g) if i.code in ("bad_param", "unknown_param", "missing_param")]
        if bad:
            raise OracleFailure(f"the edit was accepted, but validation says: {bad[0].message}")
        outcome = graph_pipeline(g, self.builders.get(), script=False)
        if case.kind == "as_is" and outcome is not None:
            raise OracleFailure(f"the unedited row does not build: {outcome[1]}")
        return outcome


# ---------------------------------------------------------------------------
# Dataset uploads
# ---------------------------------------------------------------------------
def _npz(compressed: bool = False, **arrays) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def _zip(files: dict | list, compression: int = zipfile.ZIP_STORED) -> bytes:
    """A zip of (name, content); names zipfile cannot write (a NUL first) are left out."""
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w", compression) as z:
        warnings.simplefilter("ignore")  # "Duplicate name": on purpose
        for name, content in (files.items() if isinstance(files, dict) else files):
            try:
                z.writestr(name, content)
            except (ValueError, IndexError, UnicodeEncodeError):
                continue
    return buf.getvalue()


@cache
def _image(colour: tuple, size: tuple = (12, 8), fmt: str = "PNG", mode: str = "RGB") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, size, colour[0] if mode in ("L", "P", "I;16") else colour).save(buf, fmt)
    return buf.getvalue()


def _png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _pets(n: int = 6, prefix: str = "pets/") -> dict:
    return {f"{prefix}{c}/{i}.png": _image((250 if c == "cat" else 0, 10 * i, 0)) for c in ("cat", "dog")
            for i in range(n)}


PETS_CSV = ("weight,colour,legs,animal\n" + "\n".join(
    f"{3 + i % 7}.5,{['black', 'white', 'ginger'][i % 3]},{4 - 2 * (i % 5 == 0)},{['cat', 'dog', 'bird'][i % 3]}"
    for i in range(30)) + "\n").encode()


@cache
def valid_uploads() -> dict[str, bytes]:
    """One valid file of each kind the parsers read."""
    x = np.arange(60.0).reshape(20, 3)
    y = np.arange(20) % 2
    images = _pets(5)
    images["pets/cat/j.jpg"] = _image((200, 10, 10), fmt="JPEG")
    images["pets/dog/g.gif"] = _image((10, 200, 10), fmt="GIF")
    images["pets/dog/b.bmp"] = _image((10, 10, 200), fmt="BMP")
    return {
        "csv": PETS_CSV,
        "npz": _npz(x_train=x, y_train=y),
        "npz_test": _npz(x_train=x, y_train=y, x_test=np.ones((5, 3), np.float32), y_test=np.arange(5) % 2),
        "npz_compressed": _npz(True, x_train=np.zeros((20, 8, 8), np.uint8), y_train=y),
        "zip": _zip(images),
        "zip_deflated": _zip(_pets(6, prefix=""), zipfile.ZIP_DEFLATED),
    }


PARSER_OF = {"csv": "csv", "npz": "npz", "npz_test": "npz", "npz_compressed": "npz", "zip": "zip", "zip_deflated": "zip"}
MAGIC = (b"", b"", b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY", b"\x89PNG\r\n\x1a\n", b"\xef\xbb\xbf", b"\x89HDF\r\n\x1a\n",
         b"%PDF-1.4", b"\x1f\x8b")

CELLS = st.sampled_from([
    "1", "2.5", "-3", "1e3", "cat", "dog", "", " ", "nan", "NaN", "inf", "-inf", "Infinity", "1e39", "-1e39", "1e400",
    "3.4028236e38", "0x10", "1_000", "１２", "٣", "True", "0", '"a,b"', '"q""q"', "x y", " 7 ", "é", "\u202e",
    "=cmd|' /C calc'!A0", "NULL", "?", "#N/A", "1,5", "-", "+", ".", "1e", "9" * 400, '"multi\nline"', "\x00",
]) | st.text(max_size=5)
HEADERS = st.sampled_from(["a", "b", "label", "target", "", " ", "a", "é", "x,y", '"q"', "1", "nan", "\ufeffa"]) \
    | st.text(min_size=1, max_size=6)


COLUMN_KINDS = ("classes", "classes", "numbers", "numbers", "words", "odd")


@st.composite
def csv_cases(draw) -> Case:
    columns = draw(st.integers(1, 5))
    kinds = tuple(draw(st.sampled_from(COLUMN_KINDS)) for _ in range(columns))
    header = tuple(draw(HEADERS) if _one_in(draw, 4) else f"c{i}" for i in range(columns))
    odd = tuple(draw(st.lists(CELLS, min_size=1, max_size=4)))  # the cells of "odd" columns, in turn
    n_rows = draw(st.sampled_from([0, 1, 9, 10, 12, 30, 30, 60]))
    ragged = _one_in(draw, 8)  # one row with a field too many or too few
    sep = draw(st.sampled_from([",", ",", ";", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    target = draw(st.none() | st.sampled_from(header) | st.text(max_size=5))
    task = draw(st.sampled_from([None, None, "classification", "regression"]))
    standardize = draw(st.booleans())
    wide = _one_in(draw, 40)  # a thousand more columns
    return Case("csv_table", (header, kinds, odd, n_rows, ragged, sep, newline, encoding, target, task, standardize,
                              wide))


def _csv_cell(kind: str, i: int, j: int, odd: tuple) -> str:
    if kind == "classes":
        return str((i + j) % 3)
    if kind == "numbers":
        return f"{(i * 1.7 + j) % 10:.2f}"
    if kind == "words":
        return ("cat", "dog", "bird")[(i + j) % 3]
    return odd[(i + j) % len(odd)]


def _csv_bytes(header, kinds, odd, n_rows, ragged, sep, newline, encoding, wide) -> bytes:
    header = list(header) + ([f"w{i}" for i in range(1000)] if wide else [])
    lines = [sep.join(header)]
    for i in range(n_rows):
        row = [_csv_cell(k, i, j, odd) for j, k in enumerate(kinds)]
        if wide:
            row += [str(i % 3)] * 1000
        if ragged and i == n_rows // 2:
            row = row[:-1] if len(row) > 1 and i % 2 else row + ["extra"]
        lines.append(sep.join(row))
    return newline.join(lines).encode(encoding, errors="replace")


NPZ_DTYPES = ("<f4", "<f8", "<f2", "|i1", "|u1", "<i8", "<u8", "|b1", "<c8", "<U3", "|S2", "|O", "<M8[D]", "<m8[s]",
              "[('a', '<f4')]", "|V4", ">f4", "<f16", "bogus")


@st.composite
def npz_member(draw, key: str) -> tuple:
    """(member name, recipe) for one .npy in an NPZ: maybe honest, maybe with a forged header."""
    dtype = draw(st.sampled_from(NPZ_DTYPES[:3]) | st.sampled_from(NPZ_DTYPES))
    n = draw(st.sampled_from([20, 20, 20, 5, 0, 9, 10, 1000]))
    rest = draw(st.lists(st.integers(0, 6), max_size=3))
    values = draw(st.sampled_from(["range", "mod2", "mod3", "onehot", "nan", "inf", "huge", "negative", "zeros",
                                   "random", "big_classes"]))
    forged = draw(st.none() | st.sampled_from(["shape_huge", "shape_neg", "shape_text", "descr", "fortran",
                                               "version3", "version9", "header_len", "short", "no_dict", "scalar"]))
    return key, (dtype, n, tuple(rest), values, forged)


def _npy_array(dtype: str, n: int, rest: tuple, values: str):
    shape = (n, *rest)
    size = math.prod(shape)
    if dtype == "|O":
        return np.array([{"x": 1}] * size, dtype=object).reshape(shape)
    try:
        dt = np.dtype(ast.literal_eval(dtype) if dtype.startswith("[") else dtype)
    except (TypeError, ValueError):
        return None
    base = np.arange(size, dtype="float64")
    if values == "mod2":
        base %= 2
    elif values == "mod3":
        base %= 3
    elif values == "onehot" and rest == (3,):
        base = np.eye(3)[np.arange(n) % 3].reshape(-1)
    elif values == "nan":
        base[::3] = np.nan
    elif values == "inf":
        base[::4] = np.inf
    elif values == "huge":
        base *= 1e300
    elif values == "negative":
        base -= 5
    elif values == "zeros":
        base *= 0
    elif values == "random":
        base = np.random.default_rng(0).normal(size=size)
    elif values == "big_classes":
        base *= 500
    try:
        with np.errstate(all="ignore"):
            if dt.kind in "biufc":
                return base.astype(dt).reshape(shape)
            if dt.kind in "US":
                return base.astype(dt).reshape(shape)
            return np.zeros(shape, dt)
    except (TypeError, ValueError):
        return np.zeros(shape, dt)


def _npy_bytes(recipe: tuple) -> bytes:
    dtype, n, rest, values, forged = recipe
    arr = _npy_array(dtype, n, rest, values)
    if arr is None:  # a dtype numpy itself does not know: only a header can say it
        arr, descr = np.zeros(n, "<f4"), repr(dtype)
    else:
        descr = None
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    data = buf.getvalue()
    if forged is None and descr is None:
        return data
    header_len = struct.unpack("<H", data[8:10])[0]
    header = data[10: 10 + header_len].decode("latin-1")
    payload = data[10 + header_len:]
    if descr is not None:
        header = re.sub(r"'descr': [^,]*,", f"'descr': {descr},", header)
    version = b"\x01\x00"
    if forged == "shape_huge":
        header = re.sub(r"'shape': \([^)]*\)", "'shape': (1000000000000, 3)", header)
    elif forged == "shape_neg":
        header = re.sub(r"'shape': \([^)]*\)", "'shape': (-20, 3)", header)
    elif forged == "shape_text":
        header = re.sub(r"'shape': \([^)]*\)", "'shape': ('20', 3)", header)
    elif forged == "descr":
        header = re.sub(r"'descr': [^,]*,", "'descr': '<f4',", header)  # the payload's type lies
    elif forged == "fortran":
        header = header.replace("'fortran_order': False", "'fortran_order': True")
    elif forged == "scalar":
        header = re.sub(r"'shape': \([^)]*\)", "'shape': ()", header)
    elif forged == "no_dict":
        header = "__import__('os').system('echo pwned')"
    elif forged == "short":
        payload = payload[: len(payload) // 2]
    header = header.strip() + "\n"
    if forged == "version3":
        version = b"\x03\x00"
    elif forged == "version9":
        version = b"\x09\x09"
    if forged == "header_len":
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", 65535) + header.encode("latin-1") + payload
    if version == b"\x03\x00":
        return b"\x93NUMPY" + version + struct.pack("<I", len(header)) + header.encode("utf-8") + payload
    return b"\x93NUMPY" + version + struct.pack("<H", len(header)) + header.encode("latin-1") + payload


@st.composite
def npz_cases(draw) -> Case:
    keys = draw(st.sampled_from([("x_train", "y_train"), ("x_train", "y_train"), ("x_train", "y_train", "x_test", "y_test"),
                                 ("x_train",), ("y_train",), ("x_train", "y_train", "x_test"), ()]))
    extra = draw(st.lists(st.sampled_from(["extra", "dir/x_train", "../x_train", "x_train.npy", "X_TRAIN", ""]),
                          max_size=2))
    members = tuple(draw(npz_member(k)) for k in keys + tuple(extra))
    compression = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    task = draw(st.sampled_from([None, None, "classification", "regression"]))
    duplicate = _one_in(draw, 20)
    return Case("npz_arrays", (members, compression, task, duplicate))


IMAGE_KINDS = ("png", "png", "jpeg", "gif", "bmp", "tiff", "webp", "grey", "rgba", "palette", "cmyk", "16bit",
               "tiny", "corrupt", "truncated", "text", "empty", "bomb", "wide")


def _image_bytes(kind: str, i: int) -> bytes:
    colour = (30 * (i % 8), 200, 10)
    if kind == "png":
        return _image(colour)
    if kind == "jpeg":
        return _image(colour, fmt="JPEG")
    if kind == "gif":
        return _image(colour, fmt="GIF")
    if kind == "bmp":
        return _image(colour, fmt="BMP")
    if kind == "tiff":
        return _image(colour, fmt="TIFF")
    if kind == "webp":
        try:
            return _image(colour, fmt="WEBP")
        except (KeyError, OSError):
            return _image(colour)
    if kind == "grey":
        return _image(colour, mode="L")
    if kind == "rgba":
        return _image(colour + (128,), mode="RGBA")
    if kind == "palette":
        return _image(colour, mode="P")
    if kind == "cmyk":
        return _image(colour + (0,), fmt="JPEG", mode="CMYK")
    if kind == "16bit":
        return _image((1000 * (i + 1),), mode="I;16")
    if kind == "tiny":
        return _image(colour, size=(1, 1))
    if kind == "wide":
        return _image(colour, size=(400, 1))
    if kind == "corrupt":
        data = bytearray(_image(colour))
        for j in range(20, len(data), 7):
            data[j] ^= 0x5A
        return bytes(data)
    if kind == "truncated":
        data = _image(colour, size=(40, 40), fmt="JPEG")
        return data[: len(data) // 2]
    if kind == "text":
        return b"hello, not an image"
    if kind == "empty":
        return b""
    if kind == "bomb":
        return _png_bomb(100_000, 100_000)
    raise AssertionError(kind)


NAME_PARTS = st.sampled_from(["pets/", "cat/", "dog/", "a", "/", "\\", ".", "..", "../", "..\\", "__MACOSX/", ".x",
                              "1.png", "2.jpg", "3.PNG", "n.txt", "C:", "C:\\", "é/", "ü.png", "\x00", " ", "%2e%2e/",
                              "Thumbs.db", "a" * 200, "~/", "//server/", ".DS_Store", "cat\\"])


@st.composite
def zip_cases(draw) -> Case:
    n = draw(st.sampled_from([5, 5, 6, 2, 0]))
    prefix = draw(st.sampled_from(["pets/", "", "data/set/"]))
    kinds = draw(st.lists(st.sampled_from(IMAGE_KINDS), min_size=1, max_size=3))
    extra = draw(st.lists(st.tuples(st.lists(NAME_PARTS, min_size=1, max_size=5).map("".join),
                                    st.sampled_from(IMAGE_KINDS)), max_size=6))
    shape = draw(st.none() | st.sampled_from([(8, 8, 1), (8, 8, 3), (8, 8, 4), (16, 4, 3), (8, 8), (8, 8, 2), (0, 8, 3),
                                             ("8", 8, 3), (8.0, 8, 3), (True, 8, 3), (-1, 8, 3), (4097, 8, 3), [8, 8, 3],
                                             (8, 8, 3, 1), (np.int64(8), 8, 3)]))
    compression = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]))
    tweak = draw(st.none() | st.sampled_from(["forge_size", "encrypted", "method", "duplicate", "crc", "dirs_only"]))
    return Case("zip_images", (n, prefix, tuple(kinds), tuple(extra), shape, compression, tweak))


def _zip_images(n, prefix, kinds, extra, compression, tweak) -> bytes:
    files = []
    for c in ("cat", "dog"):
        for i in range(n):
            files.append((f"{prefix}{c}/{i}.png", _image_bytes(kinds[i % len(kinds)], i)))
    files += [(name, _image_bytes(kind, 3)) for name, kind in extra]
    if tweak == "duplicate" and files:
        files.append(files[0])
    if tweak == "dirs_only":
        files = [(f"{prefix}{c}/", b"") for c in ("cat", "dog")]
    data = _zip(files, compression)
    if tweak == "forge_size":
        data = _forge_sizes(data, 2**31)
    elif tweak == "encrypted":
        data = _set_flags(data, 0x1)
    elif tweak == "method":
        data = _set_method(data, 99)
    elif tweak == "crc":
        data = _forge_crc(data)
    return data


def _central_entries(data: bytes):
    """Offsets of the central directory entries of a zip."""
    i = data.find(b"PK\x01\x02")
    while i != -1:
        yield i
        i = data.find(b"PK\x01\x02", i + 4)


def _forge_sizes(data: bytes, size: int) -> bytes:
    """The central directory declares `size` bytes unpacked for every member (a zip bomb, as seen from outside)."""
    out = bytearray(data)
    for i in _central_entries(data):
        out[i + 24: i + 28] = struct.pack("<I", min(size, 0xFFFFFFFE))
    return bytes(out)


def _set_flags(data: bytes, flag: int) -> bytes:
    out = bytearray(data)
    for i in _central_entries(data):
        out[i + 8: i + 10] = struct.pack("<H", struct.unpack("<H", data[i + 8: i + 10])[0] | flag)
    i = data.find(b"PK\x03\x04")
    while i != -1:
        out[i + 6: i + 8] = struct.pack("<H", struct.unpack("<H", data[i + 6: i + 8])[0] | flag)
        i = data.find(b"PK\x03\x04", i + 4)
    return bytes(out)


def _set_method(data: bytes, method: int) -> bytes:
    out = bytearray(data)
    for i in _central_entries(data):
        out[i + 10: i + 12] = struct.pack("<H", method)
    i = data.find(b"PK\x03\x04")
    while i != -1:
        out[i + 8: i + 10] = struct.pack("<H", method)
        i = data.find(b"PK\x03\x04", i + 4)
    return bytes(out)


def _forge_crc(data: bytes) -> bytes:
    out = bytearray(data)
    for i in _central_entries(data):
        out[i + 16: i + 20] = b"\x00\x00\x00\x00"
    return bytes(out)


@st.composite
def dataset_cases(draw) -> Case:
    kind = draw(st.sampled_from(["random", "mutated", "mutated", "wrong", "csv", "csv", "npz", "npz", "zip", "zip"]))
    if kind == "random":
        parser = draw(st.sampled_from(["csv", "npz", "zip"]))
        return Case("random", (parser, draw(st.sampled_from(MAGIC)) + draw(st.binary(max_size=3000))))
    if kind == "mutated":
        base = draw(st.sampled_from(sorted(PARSER_OF)))
        edits = draw(st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255),
                                        st.sampled_from(["set", "insert", "delete"])), max_size=8))
        keep = draw(st.sampled_from([1.0, 1.0]) | st.floats(0, 1))
        return Case("mutated", (base, tuple(edits), keep))
    if kind == "wrong":
        base = draw(st.sampled_from(sorted(PARSER_OF) + ["png", "keras_like", "json", "gzip"]))
        parser = draw(st.sampled_from(["csv", "npz", "zip"]))
        return Case("wrong", (base, parser))
    if kind == "csv":
        return draw(csv_cases())
    if kind == "npz":
        return draw(npz_cases())
    return draw(zip_cases())


def _mutate_bytes(data: bytes, edits: tuple, keep: float) -> bytes:
    out = bytearray(data)
    for where, byte, how in edits:
        if not out:
            break
        i = int(where * len(out))
        if how == "set":
            out[i] = byte
        elif how == "insert":
            out.insert(i, byte)
        else:
            del out[i]
    return bytes(out[: max(0, int(len(out) * keep))])


def _other_upload(base: str) -> bytes:
    if base in PARSER_OF:
        return valid_uploads()[base]
    if base == "png":
        return _image((1, 2, 3))
    if base == "keras_like":
        return _zip({"config.json": "{}", "model.weights.h5": b"\x89HDF\r\n\x1a\n"})
    if base == "json":
        return b'{"x_train": [1, 2, 3], "y_train": [0, 1, 0]}'
    import gzip

    return gzip.compress(PETS_CSV)


class DatasetTarget(Target):
    name = "datasets"

    def __init__(self):
        from builder.data.datasets import DatasetError

        self.expected = (DatasetError,)

    def strategy(self):
        return dataset_cases()

    def fixed(self) -> list[Case]:
        return [Case(kind, args) for kind, args in [
            ("valid", ("csv",)), ("valid", ("npz",)), ("valid", ("npz_test",)), ("valid", ("npz_compressed",)),
            ("valid", ("zip",)), ("valid", ("zip_deflated",)),
            ("over_limit", ("csv",)), ("over_limit", ("npz",)), ("over_limit", ("zip",)),
            ("zip_bomb", ("zip",)), ("zip_bomb", ("npz",)), ("zip_bomb_forged", ("zip",)),
            ("too_many_entries", ("zip",)), ("image_bomb", (100_000,)), ("image_bomb", (10_000,)),
            ("npz_bomb_header", ("npz",)),
            ("traversal", ("../../etc/passwd.png",)), ("traversal", ("/etc/cat/passwd.png",)),
            ("traversal", ("C:\\Windows\\cat\\x.png",)), ("traversal", ("pets/../../cat/x.png",)),
            ("traversal", ("..\\..\\cat\\x.png",)),
        ]]

    def label(self, case: Case) -> str:
        a = case.args
        if case.kind == "random":
            return f"random bytes as {a[0].upper()}"
        if case.kind == "valid":
            return f"valid {a[0]}"
        if case.kind == "mutated":
            return f"{a[0]} with bytes changed or cut"
        if case.kind == "wrong":
            return "a file of another format"
        if case.kind == "csv_table":
            if a[-1]:
                return "CSV table, 1,000+ columns"
            if not a[7].startswith("utf-8"):
                return f"CSV table in {a[7]}"
            return "CSV table with odd cells" if "odd" in a[1] else "CSV table of numbers and words" + \
                (", a ragged row" if a[4] else "")
        if case.kind == "npz_arrays":
            forged = any(m[1][4] for m in a[0])
            return "NPZ with a forged .npy header" if forged else "NPZ of odd arrays (types, shapes, values)"
        if case.kind == "zip_images":
            return "image zip, " + {None: "odd names and images", "forge_size": "sizes forged (bomb)",
                                    "encrypted": "entries marked encrypted", "method": "unknown compression",
                                    "duplicate": "a name twice", "crc": "wrong checksums",
                                    "dirs_only": "folders only"}[a[6]]
        return f"{case.kind} {a[0]}"

    def run(self, case: Case):
        from builder.data import datasets as D

        kwargs: dict = {}
        if case.kind == "random":
            parser, data = case.args
        elif case.kind == "valid":
            parser, data = PARSER_OF[case.args[0]], valid_uploads()[case.args[0]]
        elif case.kind == "mutated":
            base, edits, keep = case.args
            parser, data = PARSER_OF[base], _mutate_bytes(valid_uploads()[base], edits, keep)
        elif case.kind == "wrong":
            base, parser = case.args
            data = _other_upload(base)
        elif case.kind == "csv_table":
            header, kinds, odd, n_rows, ragged, sep, newline, encoding, target, task, standardize, wide = case.args
            parser = "csv"
            data = _csv_bytes(header, kinds, odd, n_rows, ragged, sep, newline, encoding, wide)
            kwargs = {"target": target, "task": task, "standardize": standardize}
        elif case.kind == "npz_arrays":
            members, compression, task, duplicate = case.args
            parser = "npz"
            files = [(f"{key}.npy", _npy_bytes(recipe)) for key, recipe in members]
            if duplicate and files:
                files.append(files[0])
            data = _zip(files, compression) if files else _zip({"readme.txt": "no arrays"})
            kwargs = {"task": task}
        elif case.kind == "zip_images":
            n, prefix, kinds, extra, shape, compression, tweak = case.args
            parser = "zip"
            data = _zip_images(n, prefix, kinds, extra, compression, tweak)
            kwargs = {"image_shape": shape}
        else:
            parser, data = self._special(case)
        parse = {"csv": D.parse_csv, "npz": D.parse_npz, "zip": D.parse_image_zip}[parser]
        _check_dataset(parse(data, case.kind + "." + parser, **kwargs))  # a result: run returns None

    @staticmethod
    def _special(case: Case) -> tuple[str, bytes]:
        from builder.data import datasets as D

        what = case.args[0]
        if case.kind == "over_limit":
            return what, b"\0" * (D.MAX_UPLOAD_BYTES + 1)
        if case.kind == "zip_bomb" and what == "zip":  # 64 MB of zeros in a 64 kB image, among good images
            files = _pets(5)
            files["pets/cat/bomb.png"] = b"\0" * (64 * 2**20)
            return "zip", _zip(files, zipfile.ZIP_DEFLATED)
        if case.kind == "zip_bomb":  # 64 MB of zeros as x_train: honest data, just well compressed
            return "npz", _npz(True, x_train=np.zeros((2**21, 8), np.float32), y_train=np.arange(2**21) % 2)
        if case.kind == "zip_bomb_forged":
            return "zip", _forge_sizes(_zip(_pets(5)), 2**32 - 2)
        if case.kind == "too_many_entries":
            return "zip", _zip({f"pets/cat/{i}.txt": b"" for i in range(D.MAX_ZIP_ENTRIES + 1)})
        if case.kind == "image_bomb":  # a PNG of 100 bytes that declares what as its width and height
            files = _pets(5)
            files["pets/cat/bomb.png"] = _png_bomb(what, what)
            return "zip", _zip(files)
        if case.kind == "npz_bomb_header":
            return "npz", _zip([("x_train.npy", _npy_bytes(("<f4", 20, (3,), "range", "shape_huge"))),
                                ("y_train.npy", _npy_bytes(("<i8", 20, (), "mod2", None)))])
        if case.kind == "traversal":
            files = _pets(5)
            files[what] = _image((1, 1, 1))
            return "zip", _zip(files)
        raise AssertionError(case.kind)


def _check_dataset(d) -> None:
    """What a parsed upload promises (builder.data.datasets.Dataset)."""
    problems = []
    if len(d.x_train) != len(d.y_train) or len(d.x_test) != len(d.y_test):
        problems.append("x and y lengths differ")
    if d.x_train.shape[1:] != d.x_test.shape[1:]:
        problems.append("train and test samples differ in shape")
    if len(d.x_train) == 0 or len(d.x_test) == 0:
        problems.append("an empty split")
    if d.x_train.dtype not in (np.float32, np.int32) or not np.all(np.isfinite(d.x_train)):
        problems.append(f"features are {d.x_train.dtype} or not finite")
    if d.task == "classification":
        if d.classes < 2 or len(d.class_names) != d.classes or d.y_train.dtype != np.int64:
            problems.append(f"{d.classes} classes, {len(d.class_names)} names, labels {d.y_train.dtype}")
        elif d.y_train.min() < 0 or max(d.y_train.max(), d.y_test.max()) >= d.classes:
            problems.append("a label outside the classes")
    elif d.task != "regression" or not np.all(np.isfinite(d.y_train)):
        problems.append(f"task {d.task!r} or non-finite targets")
    if d.input_shape != tuple(d.x_train.shape[1:]):
        problems.append("input_shape")
    if problems:
        raise OracleFailure("the Dataset breaks its promises: " + "; ".join(problems))


# ---------------------------------------------------------------------------
# Model files
# ---------------------------------------------------------------------------
MODEL_TEMPLATES = ("mlp", "small_resnet", "lstm_text", "two_inputs", "conv1d_series")
MODEL_LAYER_ROWS = (("Bidirectional", 1), ("TimeDistributed", 1), ("MultiHeadAttention", 1), ("Embedding", 0),
                    ("BatchNormalization", 1), ("Dense", 2), ("PReLU", 1), ("Dot", 1), ("RandomZoom", 0))


def _normalized_keras_zip(data: bytes) -> bytes:
    """A .keras archive with fixed times, so the same model gives the same bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == "metadata.json":
                meta = json.loads(content)
                meta["date_saved"] = "2000-01-01@00:00:00"
                content = json.dumps(meta).encode()
            out.writestr(zipfile.ZipInfo(info.filename, (1980, 1, 1, 0, 0, 0)), content)
    return buf.getvalue()


@cache
def model_file(source: str, fmt: str) -> bytes:
    """The bytes of a saved model: `template:mlp`, `layer:Dense:2`, `lambda`, `resizing` or `weights`."""
    from builder.kerasenv import load_keras
    from builder.model.build import build_model
    from builder.model.templates import template

    keras = load_keras()
    keras.utils.set_random_seed(0)
    if source.startswith("template:"):
        model = build_model(template(source.split(":", 1)[1]))
    elif source.startswith("layer:"):
        _, type_, row = source.split(":")
        inputs, params = CASES[type_][int(row)]
        model = build_model(case_graph(type_, inputs, params))
    elif source == "lambda":
        x = keras.Input((4,), name="x")
        model = keras.Model(x, keras.layers.Lambda(lambda t: t * 2, name="double")(x))
    elif source == "resizing":
        x = keras.Input((8, 8, 3), name="x")
        model = keras.Model(x, keras.layers.Resizing(4, 4, name="shrink")(x))
    elif source == "weights":
        model = build_model(template("mlp"))
    else:
        raise AssertionError(source)
    with tempfile.TemporaryDirectory() as tmp:
        if source == "weights":
            path = os.path.join(tmp, "m.weights.h5")
            model.save_weights(path)
        else:
            path = os.path.join(tmp, f"m.{fmt}")
            import logging

            logging.getLogger("absl").setLevel(logging.ERROR)  # "HDF5 is legacy"
            model.save(path)
        with open(path, "rb") as f:
            data = f.read()
    return _normalized_keras_zip(data) if fmt == "keras" and source != "weights" else data


MODEL_SOURCES = tuple(f"template:{t}" for t in MODEL_TEMPLATES) + tuple(f"layer:{t}:{r}" for t, r in MODEL_LAYER_ROWS)
FILENAMES = ("m.keras", "m.h5", "M.KERAS", "m.hdf5", None, "m.txt", "m.weights.h5", "mod\nel.keras", "é😀.keras",
             "../../etc/m.keras", "C:\\x\\m.h5", ".keras", "m.keras.zip", "a" * 300 + ".keras", "m.\x00.keras")


CONFIG_OPS = ("replace", "replace", "delete", "class", "module", "value", "value", "inbound")


def _mutate_config(draw, config: dict, most: int = 3) -> tuple[dict, list[str]]:
    """A saved model's config with 1 to `most` changes: any value, a layer class, a module, a setting, a call."""
    config = copy.deepcopy(config)
    done = []
    for _ in range(draw(st.integers(1, most))):
        op = draw(st.sampled_from(CONFIG_OPS))
        paths = _paths(config)
        if op == "class":
            paths = [p for p in paths if p[-1] == "class_name"]
        elif op == "module":
            paths = [p for p in paths if p[-1] == "module"]
        elif op == "inbound":
            paths = [p for p in paths if p[-1] == "inbound_nodes"]
        elif op == "value":  # a setting of a layer: a scalar under some "config"
            paths = [p for p in paths if isinstance(p[-1], str) and "config" in p[:-1]
                     and not isinstance(_at(config, p), (dict, list))]
        if not paths:
            continue
        path = draw(st.sampled_from(paths))
        parent = _at(config, path[:-1])
        if op == "delete":
            del parent[path[-1]]
        elif op == "class":
            parent[path[-1]] = draw(st.sampled_from(TYPES + ["Lambda", "TFOpLambda", "Functional", "Sequential",
                                                             "InputLayer", "Resizing", "Custom>Thing", "", "Model",
                                                             "function"]) | HOSTILE)
        elif op == "module":
            parent[path[-1]] = draw(st.sampled_from(["os", "builtins", "keras.layers", "", "keras.src.ops.numpy",
                                                     "subprocess", "keras.saving"]) | HOSTILE)
        elif op == "value":
            owner = _at(config, path[:-2]) if len(path) >= 2 and path[-2] == "config" else None
            cls = owner.get("class_name") if isinstance(owner, dict) else None
            ps = LAYERS[cls].param(path[-1]) if isinstance(cls, str) and cls in LAYERS else None
            odd = st.sampled_from(HUGE_INTS[:6] + (0, -1, 10**7, 10**9, "relu", None, [], True, 1e-300, 1e300))
            # a setting of a known layer gets, half the time, a value the catalog finds plausible
            parent[path[-1]] = _weighted(draw, (2 if ps else 0, value_for(ps) if ps else odd), (1, odd), (1, HOSTILE))
        else:
            parent[path[-1]] = draw(HOSTILE)
        done.append(op)
    return config, done


@st.composite
def model_cases(draw) -> Case:
    kind = draw(st.sampled_from(["valid", "valid", "valid", "truncated", "flipped", "random", "wrong", "zip_text",
                                 "config", "config", "config", "h5config", "h5config", "cap", "lambda"]))
    source = draw(st.sampled_from(MODEL_SOURCES))
    fmt = draw(st.sampled_from(["keras", "h5"]))
    filename = draw(st.sampled_from([f"m.{fmt}"] * 6 + list(FILENAMES)))
    via = draw(st.sampled_from(["bytes", "bytes", "fileobj", "path"]))
    if kind == "valid":
        return Case("valid", (source, fmt, filename, via))
    if kind == "truncated":
        return Case("truncated", (source, fmt, filename, via, draw(st.floats(0, 1, exclude_max=True))))
    if kind == "flipped":
        edits = draw(st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=20))
        return Case("flipped", (source, fmt, filename, via, tuple(edits)))
    if kind == "random":
        return Case("random", (draw(st.sampled_from(MAGIC)) + draw(st.binary(max_size=3000)), filename, via))
    if kind == "wrong":
        return Case("wrong", (draw(st.sampled_from(sorted(PARSER_OF) + ["png", "json", "gzip"])), filename, via))
    if kind == "zip_text":
        members = draw(st.lists(st.tuples(st.sampled_from(["config.json", "model.weights.h5", "metadata.json",
                                                           "notes.txt", "../config.json", "assets/x"]),
                                          st.sampled_from(["{}", "[]", "", "not json", '{"class_name": "Functional"}',
                                                           '{"class_name": "Functional", "config": {"layers": 5}}',
                                                           '{"class_name": "Sequential", "config": {"layers": [1]}}',
                                                           '{"class_name": "Functional", "config": {"layers": [{"class_name": "Functional", "config": 3}]}}',
                                                           '{"class_name": "Lambda", "config": {}}', "\x89HDF\r\n\x1a\n"])
                                          | st.text(max_size=30)), max_size=4))
        return Case("zip_text", (tuple(members), filename if filename else "m.keras", via))
    if kind in ("config", "h5config"):
        fmt = "keras" if kind == "config" else "h5"
        config, ops = _mutate_config(draw, _config_of(source, fmt))
        return Case(kind, (source, json.dumps(config, allow_nan=True), "+".join(ops)))
    if kind == "cap":
        return Case("cap", (source, fmt, via, draw(st.floats(0, 1, exclude_max=True))))
    return Case("lambda", (fmt, via, draw(st.none() | st.floats(0, 1, exclude_max=True))))


@cache
def _config_of(source: str, fmt: str) -> dict:
    data = model_file(source, fmt)
    if fmt == "keras":
        return json.loads(zipfile.ZipFile(io.BytesIO(data)).read("config.json"))
    import h5py

    with h5py.File(io.BytesIO(data), "r") as f:
        raw = f.attrs["model_config"]
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def _with_config(source: str, fmt: str, text: str) -> bytes:
    data = model_file(source, fmt)
    if fmt == "keras":
        src = zipfile.ZipFile(io.BytesIO(data))
        return _zip([(i.filename, text if i.filename == "config.json" else src.read(i)) for i in src.infolist()],
                    zipfile.ZIP_DEFLATED)
    import h5py

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.h5")
        with open(path, "wb") as f:
            f.write(data)
        with h5py.File(path, "r+") as f:
            f.attrs["model_config"] = text
        with open(path, "rb") as f:
            return f.read()


class ImporterTarget(Target):
    name = "importer"

    def __init__(self):
        from builder.files.importer import ModelImportError

        self.expected = (ModelImportError,)

    def strategy(self):
        for source in MODEL_SOURCES:  # saved now: Keras's random seeding inside hypothesis's generation is frowned on
            for fmt in ("keras", "h5"):
                _config_of(source, fmt)
        return model_cases()

    def fixed(self) -> list[Case]:
        return [
            Case("valid", ("template:mlp", "keras", "m.keras", "bytes")),
            Case("valid", ("template:mlp", "h5", "m.h5", "bytes")),
            Case("lambda", ("keras", "bytes", None)), Case("lambda", ("h5", "path", None)),
            Case("special", ("over_cap_path",)), Case("special", ("over_cap_fileobj",)),
            Case("special", ("zip_bomb",)), Case("special", ("zip_bomb_forged",)),
            Case("special", ("weights_only",)), Case("special", ("weights_renamed",)), Case("special", ("unsupported",)),
            Case("special", ("huge_units",)), Case("special", ("huge_units_h5",)),
            Case("special", ("huge_units_consistent",)),
            Case("special", ("text_as_fileobj",)), Case("special", ("not_a_file",)),
        ]

    def label(self, case: Case) -> str:
        a = case.args
        if case.kind in ("valid", "truncated", "flipped"):
            return f"{case.kind} .{a[1]}" + (", odd file name" if a[2] not in (f"m.{a[1]}",) else "")
        if case.kind in ("config", "h5config"):
            return f"{'.keras' if case.kind == 'config' else '.h5'} with its config changed"
        if case.kind == "wrong":
            return f"{a[0]} named as a model"
        if case.kind == "cap":
            return "over the size cap (max_bytes)"
        if case.kind == "lambda":
            return f"Lambda model .{a[0]}" + (" (cut)" if a[2] is not None else "")
        if case.kind == "special":
            return a[0].replace("_", " ")
        return {"random": "random bytes", "zip_text": "zip of text members"}[case.kind]

    def run(self, case: Case):
        from builder.files.importer import import_model

        kw: dict = {}
        if case.kind == "valid":
            source, fmt, filename, via = case.args
            data = model_file(source, fmt)
        elif case.kind == "truncated":
            source, fmt, filename, via, keep = case.args
            data = model_file(source, fmt)
            data = data[: int(len(data) * keep)]
        elif case.kind == "flipped":
            source, fmt, filename, via, edits = case.args
            data = _mutate_bytes(model_file(source, fmt), tuple((w, b, "set") for w, b in edits), 1.0)
        elif case.kind == "random":
            data, filename, via = case.args
        elif case.kind == "wrong":
            base, filename, via = case.args
            data = _other_upload(base)
        elif case.kind == "zip_text":
            members, filename, via = case.args
            data = _zip(list(members))
        elif case.kind in ("config", "h5config"):
            source, text, _ = case.args
            fmt = "keras" if case.kind == "config" else "h5"
            data, filename, via = _with_config(source, fmt, text), f"m.{fmt}", "bytes"
        elif case.kind == "cap":
            source, fmt, via, fraction = case.args
            data, filename = model_file(source, fmt), f"m.{fmt}"
            kw["max_bytes"] = int(len(data) * fraction)
        elif case.kind == "lambda":
            fmt, via, keep = case.args
            data, filename = model_file("lambda", fmt), f"lambda.{fmt}"
            if keep is not None:
                data = data[: int(len(data) * keep)]
        else:
            return self._special(case.args[0])
        result = _import(import_model, data, filename, via, **kw)
        _check_import(result)
        return None

    @staticmethod
    def _special(what: str):
        from builder.files.importer import MAX_BYTES, import_model

        if what == "over_cap_path":  # a sparse file: refused by its size before anything is read
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "big.keras")
                with open(path, "wb") as f:
                    f.write(b"PK\x03\x04")
                    f.truncate(MAX_BYTES + 1)
                import_model(path)
        elif what == "over_cap_fileobj":
            import_model(io.BytesIO(b"PK\x03\x04" + b"\0" * (2 * 2**20)), filename="big.keras", max_bytes=2**20)
        elif what == "zip_bomb":  # a real one, for a 1 MB cap: 40 MB of zeros as the weights
            data = _zip({"config.json": zipfile.ZipFile(io.BytesIO(model_file("template:mlp", "keras"))).read("config.json"),
                         "model.weights.h5": b"\0" * (40 * 2**20)}, zipfile.ZIP_DEFLATED)
            import_model(data, filename="bomb.keras", max_bytes=2**20)
        elif what == "zip_bomb_forged":
            import_model(_forge_sizes(model_file("template:mlp", "keras"), 2**32 - 2), filename="bomb.keras")
        elif what == "weights_only":
            import_model(model_file("weights", "h5"), filename="w.weights.h5")
        elif what == "weights_renamed":
            import_model(model_file("weights", "h5"), filename="renamed.h5")
        elif what == "unsupported":
            import_model(model_file("resizing", "keras"), filename="r.keras")
        elif what in ("huge_units", "huge_units_h5", "huge_units_consistent"):
            # a 20 kB file whose config asks for Dense(10**9): gigabytes of weights if Keras built it as it is
            fmt = "h5" if what == "huge_units_h5" else "keras"
            config = copy.deepcopy(_config_of("template:mlp", fmt))
            dense = [layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense"]
            dense[0]["config"]["units"] = 10**9
            if what == "huge_units_consistent":  # the next layer agrees, so only the count can stop it
                dense[1]["build_config"] = {"input_shape": [None, 10**9]}
            import_model(_with_config("template:mlp", fmt, json.dumps(config)), filename=f"huge.{fmt}")
        elif what == "text_as_fileobj":
            import_model(io.StringIO("not bytes"), filename="m.keras")
        elif what == "not_a_file":
            import_model(12345)


def _import(import_model, data: bytes, filename, via: str, **kw):
    if via == "fileobj":
        f = io.BytesIO(data)
        if filename is not None:
            f.name = filename
        return import_model(f, **kw)
    if via == "path":
        with tempfile.TemporaryDirectory() as tmp:
            name = os.path.basename(str(filename or "model")).replace("\x00", "") or "model"
            path = os.path.join(tmp, name[:200])
            with open(path, "wb") as f:
                f.write(data)
            return import_model(path, **kw)
    return import_model(data, filename=filename, **kw)


def _check_import(result) -> None:
    from builder.model.validate import check_structure

    g = result.graph
    if Graph.loads(g.dumps()) != g:
        raise OracleFailure("the imported graph changed through dumps/loads")
    errors = [i for i in check_structure(g) if i.severity == "error"]
    if errors:
        raise OracleFailure(f"the imported graph has errors: {errors[0].message}")
    if not set(result.weights) <= set(g.ids()):
        raise OracleFailure("weights for nodes that are not in the graph")


TARGETS = {"graph": GraphTarget, "params": ParamTarget, "datasets": DatasetTarget, "importer": ImporterTarget}


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
def report(tallies: list[Tally], reasons: int = 6) -> str:
    """The tables bench/fuzz.py prints: one line per target, then its refusals and crashes."""
    lines = ["| target | cases | successes | refusals | crashes | seconds | ms/case |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for t in tallies:
        lines.append(f"| {t.target} | {t.cases:,} | {t.successes:,} | {t.refused:,} | {len(t.crashes)} | "
                     f"{t.seconds:.1f} | {1000 * t.seconds / max(1, t.cases):.1f} |")
    total = sum(t.cases for t in tallies)
    lines.append(f"| all | {total:,} | {sum(t.successes for t in tallies):,} | {sum(t.refused for t in tallies):,} | "
                 f"{sum(len(t.crashes) for t in tallies)} | {sum(t.seconds for t in tallies):.1f} | "
                 f"{1000 * sum(t.seconds for t in tallies) / max(1, total):.1f} |")
    for t in tallies:
        lines += ["", f"### {t.target}: refusals by class", "", "| class | count | example messages |",
                  "| --- | ---: | --- |"]
        for key, count in t.refusals.most_common():
            lines.append(f"| **{key}** | **{count:,}** | |")
            for reason, n in t.reasons[key].most_common(reasons):
                lines.append(f"| ... {reason} | {n:,} | {t.examples[key][reason].replace('|', '/')} |")
            if len(t.reasons[key]) > reasons:
                rest = sum(n for _, n in t.reasons[key].most_common()[reasons:])
                lines.append(f"| ... {len(t.reasons[key]) - reasons} other shapes | {rest:,} | |")
        lines += ["", f"### {t.target}: classes of input", "", "| input | cases | results | refusals | crashes |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        labels = sorted({label for label, _ in t.by_label})
        for label in labels:
            n = {v: t.by_label[label, v] for v in ("success", "refusal", "crash")}
            lines.append(f"| {label.replace('|', '/')} | {sum(n.values()):,} | {n['success']:,} | {n['refusal']:,} | "
                         f"{n['crash']:,} |")
        lines.append("")
        lines.append("cases by kind: " + ", ".join(f"{k} {v:,}" for k, v in sorted(t.kinds.items())))
        lines.append("slowest: " + "; ".join(f"{s:.2f} s {d[:90]}" for s, d in t.slowest))
        shown: Counter = Counter()
        for c in t.crashes:  # at most 3 of each kind and place
            shown[c.kind, c.where] += 1
            if shown[c.kind, c.where] <= 3:
                lines.append(f"CRASH {c.kind}: {c.message[:300]}\n    case: {c.case}\n    at: {c.where}")
    return "\n".join(lines)
