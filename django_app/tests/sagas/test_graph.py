"""The state graph is transition()'s own answers: every reachable state, both outcomes each."""

from __future__ import annotations

from microservices.models.sagas import SagaStatus
from microservices.sagas.definition import SagaDefinition, SagaStep, StepContext
from microservices.sagas.graph import state_graph
from shop.order_processing import ORDER_PROCESSING


def _noop(ctx: StepContext) -> None:
    pass


def _edges(definition: SagaDefinition) -> set[tuple[str, str, bool]]:
    return {(e.source, e.target, e.succeeded) for e in state_graph(definition).edges}


def test_order_saga_graph_is_every_transition_of_every_reachable_state():
    """Five actions, three undos, four ends; the failed step's own undo comes first."""
    graph = state_graph(ORDER_PROCESSING)
    assert [n.key for n in graph.nodes] == [
        "a0",
        "a1",
        "c1",
        "a2",
        "c2",
        "a3",
        "c3",
        "a4",
        "completed",
        "failed",
        "compensated",
        "needs_attention",
    ]
    assert _edges(ORDER_PROCESSING) == {
        ("a0", "a1", True),
        ("a0", "failed", False),
        ("a1", "a2", True),
        ("a1", "c1", False),
        ("c1", "compensated", True),
        ("c1", "needs_attention", False),
        ("a2", "a3", True),
        ("a2", "c2", False),
        ("c2", "c1", True),
        ("c2", "needs_attention", False),
        ("a3", "a4", True),
        ("a3", "c3", False),
        ("c3", "c2", True),
        ("c3", "needs_attention", False),
        ("a4", "completed", True),
        ("a4", "c3", False),
    }
    assert len(graph.edges) == 16
    assert graph.node("c2").label == "undo process_payment"


def test_a_saga_without_undos_has_no_compensation_and_no_undo_ends():
    """Nothing to undo: every failure is FAILED, and COMPENSATED is never reached."""
    definition = SagaDefinition("plain", [SagaStep("one", _noop), SagaStep("two", _noop)])
    graph = state_graph(definition)
    assert [n.key for n in graph.nodes] == ["a0", "a1", "completed", "failed"]
    assert _edges(definition) == {
        ("a0", "a1", True),
        ("a0", "failed", False),
        ("a1", "completed", True),
        ("a1", "failed", False),
    }
    assert {n.kind for n in graph.terminals()} == {SagaStatus.COMPLETED, SagaStatus.FAILED}


def test_an_undo_on_the_first_step_makes_failed_unreachable():
    """When step 0 can be undone, no failure ends in FAILED: the graph leaves it out."""
    definition = SagaDefinition(
        "undo_first", [SagaStep("one", _noop, compensation=_noop), SagaStep("two", _noop)]
    )
    keys = [n.key for n in state_graph(definition).nodes]
    assert keys == ["a0", "c0", "a1", "completed", "compensated", "needs_attention"]
    assert ("a1", "c0", False) in _edges(definition)
