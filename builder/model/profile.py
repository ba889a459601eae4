"""The cost of each layer for one sample: MACs, other operations, memory.

Shapes come from the real build (`builder.model.build`); the arithmetic of each
layer comes from its catalog entry (`LayerSpec.count_cost`, whose conventions
are stated above `catalog.Cost`). Counts are for ONE sample when the model
predicts; layers that act only while training (dropout, noise, augmentation)
cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from builder.config import fmt_bytes
from builder.model.build import BuildResult, build, fmt_shape
from builder.model.catalog import LAYERS
from builder.model.graph import Graph
from builder.model.memory import FLOAT_BYTES
from builder.model.summary import summarize


@dataclass(frozen=True)
class Row:
    """One layer's cost for one sample.

    Attributes:
        name: The node id (the Keras layer name).
        type: The Keras class name.
        output_shape: With the batch axis (None).
        params: Weights, as `count_params()`.
        macs: Multiply-accumulates; None when a size is unknown until run time.
        other_ops: Element-wise operations (bias, activation, pooling, merges...);
            None likewise.
        activation_bytes: The output of one sample, 4 bytes a value (float32);
            None when a size is unknown.
        param_bytes: The weights, 4 bytes each.
        arithmetic: How the count is made, e.g. "30×30 positions × 3×3×3 × 32 = 777,600 MACs".
    """

    name: str
    type: str
    output_shape: tuple | None
    params: int
    macs: int | None
    other_ops: int | None
    activation_bytes: int | None
    param_bytes: int
    arithmetic: str


@dataclass(frozen=True)
class Profile:
    """Rows in topological order and the totals (of the rows whose counts are known).

    Attributes:
        unknown: Names of the layers whose cost depends on a size left open
            (None) in an input shape; they are not in the totals.
    """

    rows: tuple[Row, ...]
    total_params: int
    total_macs: int
    total_other_ops: int
    total_activation_bytes: int
    total_param_bytes: int
    unknown: tuple[str, ...] = ()

    def heaviest(self, n: int = 3) -> list[Row]:
        """The `n` layers with the most MACs (those with none left out), most first; ties in graph order."""
        ranked = sorted((r for r in self.rows if r.macs), key=lambda r: -r.macs)
        return ranked[: max(int(n), 0)]

    def share(self, row: Row) -> float:
        """The row's part of the total MACs, from 0 to 1 (0 when nothing has MACs)."""
        return (row.macs or 0) / self.total_macs if self.total_macs else 0.0

    def to_json(self) -> dict:
        """The `profile --json` object of CONTRACT.md."""
        return {
            "total_params": self.total_params,
            "total_macs": self.total_macs,
            "layers": [
                {
                    "name": r.name,
                    "type": r.type,
                    "output_shape": None if r.output_shape is None else list(r.output_shape),
                    "params": r.params,
                    "macs": r.macs,
                    "activation_bytes": r.activation_bytes,
                }
                for r in self.rows
            ],
        }

    def table(self) -> list[dict]:
        """Rows for a table widget (shapes as text)."""
        return [
            {"name": r.name, "type": r.type, "output shape": fmt_shape(r.output_shape), "params": r.params,
             "MACs": r.macs, "other ops": r.other_ops, "output size": _size(r.activation_bytes),
             "arithmetic": r.arithmetic}
            for r in self.rows
        ]

    def text(self) -> str:
        """A plain-text table with the totals and the heaviest layers, for the command line."""
        head = ("layer", "type", "output shape", "params", "MACs", "other ops", "output")
        body = [(r.name, r.type, fmt_shape(r.output_shape), f"{r.params:,}", _num(r.macs), _num(r.other_ops),
                 _size(r.activation_bytes)) for r in self.rows]
        total = ("total", "", "", f"{self.total_params:,}", f"{self.total_macs:,}", f"{self.total_other_ops:,}",
                 fmt_bytes(self.total_activation_bytes))
        widths = [max(len(row[i]) for row in (head, *body, total)) for i in range(len(head))]

        def line(row):
            left = [row[i].ljust(widths[i]) for i in range(3)]
            right = [row[i].rjust(widths[i]) for i in range(3, len(row))]
            return "  ".join(left + right).rstrip()

        rule = "-" * len(line(head))
        sizes = (f"weights: {fmt_bytes(self.total_param_bytes)}; layer outputs for one sample: "
                 f"{fmt_bytes(self.total_activation_bytes)}; FLOPs ≈ 2 × MACs = {2 * self.total_macs:,}")
        lines = [line(head), rule, *map(line, body), rule, line(total), sizes]
        top = self.heaviest(3)
        if top:
            lines.append("heaviest: " + ", ".join(f"{r.name} ({self.share(r):.0%})" for r in top))
        if self.unknown:
            lines.append(f"not counted (a size is only known when the model runs): {', '.join(self.unknown)}")
        return "\n".join(lines)


def _num(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def _size(n: int | None) -> str:
    return "?" if n is None else fmt_bytes(n)


def _values(shape) -> int | None:
    """Values in one sample of `shape` (batch axis first), None when a size is unknown."""
    if shape is None:
        return None
    n = 1
    for d in tuple(shape)[1:]:
        if d is None:
            return None
        n *= d
    return n


def profile(graph_or_result: Graph | BuildResult) -> Profile:
    """The cost of every built layer for one sample.

    Args:
        graph_or_result: A graph (built here with a fresh `ModelBuilder`) or the
            `BuildResult` of a build already made.

    Returns:
        A `Profile`. As `summary.summarize` does, with a model it has the model's
        layers; when the graph has errors, the nodes that did build.
    """
    result = graph_or_result if isinstance(graph_or_result, BuildResult) else build(graph_or_result)
    graph = result.graph
    in_model = result.in_model()
    rows, unknown = [], []
    for nid in result.order:
        info = result.infos.get(nid)
        if info is None or (in_model is not None and nid not in in_model):
            continue
        node = graph.node(nid)
        shapes = [result.infos[s].output_shape for s in graph.inputs_of(nid)]
        cost = LAYERS[node.type].count_cost(shapes, info.output_shape, node.params)
        values = _values(info.output_shape)
        if cost.macs is None:
            unknown.append(nid)
        rows.append(Row(
            name=nid, type=node.type, output_shape=info.output_shape, params=info.params, macs=cost.macs,
            other_ops=cost.other_ops, activation_bytes=None if values is None else values * FLOAT_BYTES,
            param_bytes=info.params * FLOAT_BYTES, arithmetic=cost.text,
        ))
    total_params = summarize(result).total_params
    return Profile(
        rows=tuple(rows),
        total_params=total_params,
        total_macs=sum(r.macs or 0 for r in rows),
        total_other_ops=sum(r.other_ops or 0 for r in rows),
        total_activation_bytes=sum(r.activation_bytes or 0 for r in rows),
        total_param_bytes=total_params * FLOAT_BYTES,
        unknown=tuple(unknown),
    )
