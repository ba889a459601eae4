"""What the checks find: an Issue pinned to a node (or the graph), with an optional one-click Fix."""

from __future__ import annotations

from dataclasses import dataclass, field

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Fix:
    """A one-click graph edit: `op` is a Graph method, `args` its kwargs."""

    label: str
    op: str
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Issue:
    """One problem, pinned to a node (node_id None: the graph as a whole)."""

    node_id: str | None
    code: str
    message: str
    fix: Fix | None = None
    severity: str = ERROR

    def line(self) -> str:
        """`error: NODE_ID: message`, as the command line prints it."""
        return f"{self.severity}: {self.node_id or 'graph'}: {self.message}"
