"""Per-layer rows, totals and the `model.summary()` text.

Counts are of weights only, exactly as Keras's `count_params()` does: never
optimizer variables (which `summary()` adds once a model has been trained).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from builder.model.build import BuildResult, fmt_shape


@dataclass(frozen=True)
class Row:
    name: str
    type: str
    output_shape: tuple | None
    params: int
    trainable: bool


@dataclass(frozen=True)
class Summary:
    rows: tuple[Row, ...]
    total_params: int
    trainable_params: int
    non_trainable_params: int
    size_bytes: int  # weights in memory

    def to_json(self) -> dict:
        """The `summary --json` object of CONTRACT.md."""
        return {
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "layers": [
                {**asdict(r), "output_shape": None if r.output_shape is None else list(r.output_shape)}
                for r in self.rows
            ],
        }

    def table(self) -> list[dict]:
        """Rows for a table widget (shapes as text)."""
        return [
            {"name": r.name, "type": r.type, "output shape": fmt_shape(r.output_shape), "params": r.params, "trainable": r.trainable}
            for r in self.rows
        ]


def summarize(result: BuildResult) -> Summary:
    """Rows for every built node (topological order) and the totals.

    Without errors, the rows and totals are the model's layers (every output
    and what leads to it), counted without making the model; with errors,
    the nodes that did build.
    """
    graph = result.graph
    in_model = result.in_model()
    rows = []
    for nid in result.order:
        info = result.infos.get(nid)
        if info is None or (in_model is not None and nid not in in_model):
            continue
        node = graph.node(nid)
        rows.append(Row(nid, node.type, info.output_shape, info.params, node.trainable))
    infos = [result.infos[r.name] for r in rows]
    trainable = sum(i.trainable_params for i in infos)
    frozen = sum(i.non_trainable_params for i in infos)
    size = sum(i.weight_bytes for i in infos) if in_model is not None else 4 * (trainable + frozen)
    return Summary(tuple(rows), trainable + frozen, trainable, frozen, size)


def summary_text(model) -> str:
    """Keras's own `model.summary()` text."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, **_: lines.append(line), line_length=78)  # rich draws 80 columns when not on a terminal
    return "\n".join(lines)
