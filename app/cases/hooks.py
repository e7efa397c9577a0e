"""What the contexts above cases do when a case enters a node, registered once at start.

Cases stand below tracking (a clock names its case), so a move cannot call the clocks itself: the
tracking context registers its handler here from ``app.startup.wire_contexts`` and every move runs it
inside the move's own transaction. A process that never wired its contexts fails at the first move
rather than moving cases without clocks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from app.cases.tables import Case


@dataclass(frozen=True, slots=True)
class NodeEntered:
    """A case has just entered ``node`` at ``at``; ``reported``: it is new, there is no node to leave."""

    case: Case
    node: str
    at: datetime
    reported: bool


NodeHandler = Callable[[NodeEntered], Awaitable[None]]

_node_handlers: list[NodeHandler] = []


def on_node_entered(handler: NodeHandler) -> None:
    """Run ``handler`` in every move's transaction from now on (registering it twice runs it once)."""
    if handler not in _node_handlers:
        _node_handlers.append(handler)


async def node_entered(*, case: Case, node: str, at: datetime, reported: bool = False) -> None:
    """Tell the registered contexts; call inside the transaction that moved the case."""
    if not _node_handlers:
        raise RuntimeError("no context handles a case's moves: call app.startup.wire_contexts() at start")
    entered = NodeEntered(case=case, node=node, at=at, reported=reported)
    for handler in _node_handlers:
        await handler(entered)
