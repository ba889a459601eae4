"""The canvas refuses a connection exactly when Python would (Graph.connect, through the connect event).

The canvas checks a connection while it is dragged (components/canvas/frontend/src/rules.ts), from the payload
alone: each layer's maxin, nin and ports, and the edges. Here Python makes the payloads (canvas_data) of real and
random graphs and every connection the canvas could be asked for (each pair of layers, each target handle and a few
that are not drawn); tools/verdicts.mjs runs rules.ts in Node on them; each verdict is compared with what applying
that connect event does in Python: accepted, or refused by the same rule.

Needs Node and the frontend's node_modules (`npm ci` in components/canvas/frontend, as scripts/check-bundle does);
skipped only where there is no Node.
"""

import json
import random
import shutil
import subprocess

import pytest

from builder.model.graph import Graph, GraphError
from builder.model.layout import auto_layout
from builder.model.templates import TEMPLATES, template
from components.canvas import HERE, apply_event, canvas_data

FRONTEND = HERE / "frontend"
# Python's refusals, by the words of Graph.connect's messages (a new message fails the test until it is named here).
PYTHON_RULES = {
    "there is no node": "gone",
    "is a model input and takes no inputs": "input",
    "to itself": "self",
    "would make a cycle": "cycle",
    "port must be": "port",
    "takes at most": "arity",
}
# Random graphs draw their layers from these: inputs, one-input layers, merges of two or any number, named ports.
KINDS = [("Input", {"shape": [8]}), ("Dense", {"units": 8}), ("Dropout", {"rate": 0.1}), ("Add", {}),
         ("Concatenate", {}), ("Subtract", {}), ("Multiply", {}), ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4})]

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node is not installed (the app needs none)")


def python_rule(graph: Graph, source: str, target: str, port: int | None) -> str | None:
    """The rule Python refuses the canvas's connect event by, or None when it applies."""
    try:
        apply_event(graph, {"kind": "connect", "source": source, "target": target, "port": port})
    except GraphError as e:
        found = [rule for words, rule in PYTHON_RULES.items() if words in str(e)]
        assert len(found) == 1, f"name the rule of Graph.connect's message {str(e)!r} in PYTHON_RULES"
        return found[0]
    return None


def random_graph(rng: random.Random, size: int) -> Graph:
    """Layers of KINDS joined at random: every connection Graph.connect accepts is kept, so merges end up with
    none, some or all of their inputs."""
    g = Graph()
    for _ in range(size):
        type_, params = rng.choice(KINDS)
        g, _nid = g.add_node(type_, params)
    ids = g.ids()
    for _ in range(size * 2):
        try:
            g = g.connect(rng.choice(ids), rng.choice(ids))
        except GraphError:
            pass
    return auto_layout(g)


def graphs() -> list[Graph]:
    out = [auto_layout(template(key)) for key in TEMPLATES]
    unknown = template("mlp").to_dict()
    unknown["nodes"][1]["type"] = "NotALayer"  # Python knows nothing of it: any number of inputs
    odd, second = Graph.from_dict(unknown).add_node("Input", {"shape": [4]})
    odd, _third = odd.connect(second, "dense").add_node("Input", {"shape": [4]})  # a third input, not yet joined
    out.append(auto_layout(odd))
    rng = random.Random(23)
    out += [random_graph(rng, rng.randint(3, 9)) for _ in range(40)]
    return out


def cases_for(index: int, data: dict) -> list[dict]:
    """Every (source, target, handle) over the graph's layers: the handles the canvas draws for the target (`in`,
    or `in-<i>` for each port) and, beyond them, `in` and two ports past those connected."""
    out = []
    ids = [n["id"] for n in data["nodes"]]
    for t in data["nodes"]:
        handles = ["in"] + [f"in-{i}" for i in range(max(len(t["ports"]), t["nin"] + 2))]
        out += [{"graph": index, "source": s, "target": t["id"], "handle": h} for s in ids for h in handles]
    # A layer the canvas still draws but Python has dropped, and a collapsed group's box.
    out.append({"graph": index, "source": "gone_layer", "target": ids[0], "handle": "in"})
    out.append({"graph": index, "source": ids[0], "target": "g:group_1", "handle": "in"})
    return out


def canvas_verdicts(payloads: list[dict], cases: list[dict]) -> list[dict]:
    if not (FRONTEND / "node_modules" / "typescript").is_dir():
        pytest.fail("the canvas frontend's node_modules are missing: run npm ci in components/canvas/frontend "
                    "(scripts/check-bundle does)")
    run = subprocess.run(["node", str(FRONTEND / "tools" / "verdicts.mjs")], input=json.dumps(
        {"graphs": payloads, "cases": cases}), capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_the_canvas_refuses_a_connection_exactly_when_python_would():
    gs = graphs()
    payloads = [canvas_data(g, None) for g in gs]
    cases = [c for i, d in enumerate(payloads) for c in cases_for(i, d)]
    verdicts = canvas_verdicts(payloads, cases)
    assert len(verdicts) == len(cases)
    seen: dict[tuple, int] = {}
    for case, verdict in zip(cases, verdicts, strict=True):
        g = gs[case["graph"]]
        expected = python_rule(g, case["source"], case["target"].removeprefix("g:"), verdict["port"])
        got = verdict["rule"]
        seen[(got, expected)] = seen.get((got, expected), 0) + 1
        where = f"{case} in graph {g.name!r}: the canvas says {verdict['text'] or 'yes'}"
        if got == "duplicate":
            # The canvas's own rule: one connection between two layers (Python would add a second one).
            assert any(e.source == case["source"] and e.target == case["target"] for e in g.edges), where
            assert expected in (None, "port", "arity"), f"{where}; Python: {expected}"
        elif got == "group":
            assert case["target"].startswith("g:") and expected == "gone", where
        else:
            assert got == expected, f"{where}; Python: {expected or 'yes'}"
    # The cases reach every rule, on both sides, and many connections are accepted.
    rules = {got for got, _ in seen}
    assert rules >= {None, "group", "gone", "input", "self", "cycle", "duplicate", "port", "arity"}, seen
    assert seen[(None, None)] > 500, seen
