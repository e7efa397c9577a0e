"""The case's node state machine: which moves are allowed, and what each move needs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.rules.facts import N_


class Node(StrEnum):
    REPORTED = "reported"
    RESPONSIBILITY = "responsibility"
    PLAN = "plan"
    IMPLEMENTATION = "implementation"
    COMPLETED = "completed"
    FEEDBACK = "feedback"
    CLOSED = "closed"
    DISPUTED = "disputed"
    CANCELLED = "cancelled"


# The main line a case walks, in order; the progress bar and board columns follow it.
MAIN_LINE: tuple[Node, ...] = (
    Node.REPORTED,
    Node.RESPONSIBILITY,
    Node.PLAN,
    Node.IMPLEMENTATION,
    Node.COMPLETED,
    Node.FEEDBACK,
    Node.CLOSED,
)
DISPUTABLE: frozenset[Node] = frozenset({Node.RESPONSIBILITY, Node.PLAN, Node.IMPLEMENTATION})
FINAL: frozenset[Node] = frozenset({Node.CLOSED, Node.CANCELLED})
OPEN_NODES: tuple[Node, ...] = tuple(n for n in Node if n not in FINAL)


class TransitionError(Exception):
    """A move the state machine does not allow; the message says why in the user's words.

    ``message`` is English with ``%(name)s`` fields and is the catalogue msgid; ``values`` fills them (a
    ``Node`` for a node, so a page can show the node's own label). ``str(error)`` is the English text.
    """

    def __init__(self, message: str, **values: str) -> None:
        super().__init__(message % values)
        self.message = message
        self.values = values


@dataclass(frozen=True)
class Transition:
    source: Node
    target: Node
    reason: str = ""
    # For a return from mediation: the node the case left when the dispute opened.
    dispute_origin: Node | None = None


def allowed_targets(source: Node, *, dispute_origin: Node | None = None) -> list[Node]:
    """The nodes a case in ``source`` may move to next."""
    if source in FINAL:
        return []
    if source is Node.DISPUTED:
        return [dispute_origin] if dispute_origin else []
    targets: list[Node] = []
    index = MAIN_LINE.index(source)
    targets.append(MAIN_LINE[index + 1])
    if source in DISPUTABLE:
        targets.append(Node.DISPUTED)
    # A customer who reopens within the feedback window sends the case back to implementation.
    if source is Node.FEEDBACK:
        targets.append(Node.IMPLEMENTATION)
    targets.append(Node.CANCELLED)
    return targets


def check(transition: Transition) -> None:
    """Raise TransitionError unless the move is allowed and carries what it needs."""
    source, target = transition.source, transition.target
    if source in FINAL:
        raise TransitionError(N_("The case is %(node)s; it cannot move any more."), node=source)
    if target not in allowed_targets(source, dispute_origin=transition.dispute_origin):
        raise TransitionError(N_("A case cannot move from %(source)s to %(target)s."), source=source, target=target)
    if target in (Node.CANCELLED, Node.DISPUTED) and not transition.reason.strip():
        raise TransitionError(N_("Moving a case to %(node)s needs a reason."), node=target)


def parse_node(value: str) -> Node:
    try:
        return Node(value)
    except ValueError:
        raise TransitionError(N_("%(value)s is not a case node."), value=repr(value)) from None
