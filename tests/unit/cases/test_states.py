"""The node state machine: what may follow what, and what a move must carry."""

from itertools import pairwise

import pytest

from app.cases.states import MAIN_LINE, Node, Transition, TransitionError, allowed_targets, check


def test_main_line_moves_forward_one_node_at_a_time() -> None:
    for source, target in pairwise(MAIN_LINE):
        check(Transition(source, target))
    with pytest.raises(TransitionError, match="cannot move from reported to plan"):
        check(Transition(Node.REPORTED, Node.PLAN))


@pytest.mark.parametrize("node", [Node.RESPONSIBILITY, Node.PLAN, Node.IMPLEMENTATION])
def test_dispute_opens_from_three_nodes_and_returns_where_it_left(node: Node) -> None:
    check(Transition(node, Node.DISPUTED, reason="supplier disagrees"))
    assert allowed_targets(Node.DISPUTED, dispute_origin=node) == [node]
    check(Transition(Node.DISPUTED, node, dispute_origin=node))
    other = next(n for n in (Node.RESPONSIBILITY, Node.PLAN) if n is not node)
    with pytest.raises(TransitionError):
        check(Transition(Node.DISPUTED, other, dispute_origin=node))


@pytest.mark.parametrize("node", [Node.REPORTED, Node.COMPLETED, Node.FEEDBACK])
def test_dispute_is_not_open_everywhere(node: Node) -> None:
    with pytest.raises(TransitionError):
        check(Transition(node, Node.DISPUTED, reason="x"))


def test_cancel_and_dispute_need_a_reason() -> None:
    with pytest.raises(TransitionError, match="needs a reason"):
        check(Transition(Node.REPORTED, Node.CANCELLED, reason="  "))
    with pytest.raises(TransitionError, match="needs a reason"):
        check(Transition(Node.PLAN, Node.DISPUTED))
    check(Transition(Node.REPORTED, Node.CANCELLED, reason="duplicate report"))


@pytest.mark.parametrize("final", [Node.CLOSED, Node.CANCELLED])
def test_final_nodes_do_not_move(final: Node) -> None:
    assert allowed_targets(final) == []
    with pytest.raises(TransitionError, match="cannot move any more"):
        check(Transition(final, Node.REPORTED))


def test_feedback_can_reopen_into_implementation() -> None:
    check(Transition(Node.FEEDBACK, Node.IMPLEMENTATION))
