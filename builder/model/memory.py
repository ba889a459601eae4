"""How much memory training a graph needs, estimated from its shapes before anything is allocated.

A shared classroom server must not let one model take it down: the Build page
warns when a graph is beyond the budget at the default batch size, and the
Train page refuses to start a run that is beyond it at the chosen one.

The estimate is float32 throughout and counts what `fit` keeps at once:
- weights, their gradients and the optimizer's slots (Adam keeps two per weight);
- every layer's output for the batch, twice: kept for the backward pass, and
  its gradient.
Keras and TensorFlow add workspace on top, so the estimate is a floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from builder.config import fmt_bytes, number

MB = 2**20
BUDGET_SETTING = "LAYERCANVAS_MEMORY_BUDGET_MB"
BUDGET_BYTES = number(BUDGET_SETTING) * MB
DEFAULT_BATCH = 32
FLOAT_BYTES = 4
# Extra float32 values kept per trainable weight by each optimizer (its "slots").
OPTIMIZER_SLOTS = {"sgd": 1, "adam": 2, "adamw": 2, "nadam": 2, "adamax": 2, "rmsprop": 1, "adagrad": 1,
                   "adadelta": 2, "ftrl": 2, "lion": 1}


@dataclass(frozen=True)
class MemoryEstimate:
    batch_size: int
    weights: int  # bytes
    gradients: int
    optimizer: int
    activations: int
    per_sample: int  # activation bytes for one sample
    biggest_node: str | None  # the node with the largest output
    biggest_shape: tuple | None

    @property
    def fixed(self) -> int:
        """What does not grow with the batch: weights, gradients, optimizer slots."""
        return self.weights + self.gradients + self.optimizer

    @property
    def total(self) -> int:
        return self.fixed + self.activations

    def largest_batch(self, budget: int = BUDGET_BYTES) -> int:
        """The largest batch that fits `budget` (0 if even the weights don't)."""
        if self.fixed >= budget:
            return 0
        return (budget - self.fixed) // max(self.per_sample, 1)

    def describe(self) -> str:
        """'about 1.2 GB (weights, gradients and optimizer 300.0 MB, layer outputs 900.0 MB)'."""
        return (f"about {fmt_bytes(self.total)} (weights, gradients and optimizer {fmt_bytes(self.fixed)}, "
                f"layer outputs {fmt_bytes(self.activations)})")


def estimate(infos: dict, order: list[str], batch_size: int = DEFAULT_BATCH, optimizer: str = "adam"
             ) -> MemoryEstimate:
    """The estimate from a build's node infos (`BuildResult.infos`, in `order`).

    Args:
        infos: node id -> NodeInfo (output_shape, params, trainable_params).
        order: Node ids; those without an info (not built) are skipped.
        batch_size: Samples per step.
        optimizer: Optimizer name (decides the slots per weight).
    """
    batch = max(int(batch_size), 1)
    params = trainable = per_sample = biggest = 0
    biggest_node, biggest_shape = None, None
    for nid in order:
        info = infos.get(nid)
        if info is None:
            continue
        params += info.params
        trainable += info.trainable_params
        shape = info.output_shape
        if shape is None:
            continue
        size = math.prod(d for d in shape[1:] if d is not None) * FLOAT_BYTES
        per_sample += 2 * size
        if size > biggest:
            biggest, biggest_node, biggest_shape = size, nid, tuple(shape)
    slots = OPTIMIZER_SLOTS.get(str(optimizer).lower(), 2)
    return MemoryEstimate(
        batch_size=batch,
        weights=params * FLOAT_BYTES,
        gradients=trainable * FLOAT_BYTES,
        optimizer=trainable * FLOAT_BYTES * slots,
        activations=per_sample * batch,
        per_sample=per_sample,
        biggest_node=biggest_node,
        biggest_shape=biggest_shape,
    )


def over_budget(est: MemoryEstimate, budget: int = BUDGET_BYTES) -> str | None:
    """None if training fits the budget; else a message that says what to change."""
    if est.total <= budget:
        return None
    advice = []
    fits = est.largest_batch(budget)
    if fits >= 1 and fits < est.batch_size:
        advice.append(f"lower the batch size to {fits} or less")
    if est.activations > est.fixed and est.biggest_node is not None:
        shape = "(" + ", ".join("None" if d is None else str(d) for d in est.biggest_shape) + ")"
        advice.append(f"shrink the largest layer output ('{est.biggest_node}', {shape}): "
                      "pool or stride earlier, or use a smaller input")
    if est.fixed > budget / 2:
        advice.append("use fewer units or filters")
    return (f"Training this model with batch {est.batch_size} needs about {fmt_bytes(est.total)}, more than the "
            f"{fmt_bytes(budget)} this server allows per run (weights, gradients and optimizer "
            f"{fmt_bytes(est.fixed)}, layer outputs {fmt_bytes(est.activations)}): "
            + "; or ".join(advice or ["make the model smaller"])
            + f" (or set {BUDGET_SETTING} to allow more)")
