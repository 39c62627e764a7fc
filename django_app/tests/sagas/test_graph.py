"""The state graph is transition()'s own answers: every reachable state, both outcomes each."""

from __future__ import annotations

from django_interlink.models.sagas import TERMINAL_STATUSES, SagaStatus
from django_interlink.sagas.definition import SagaDefinition, SagaStep, StepContext
from django_interlink.sagas.graph import TERMINAL_ORDER, state_graph
from django_interlink.sagas.state import Outcome
from shop.order_processing import ORDER_PROCESSING

OK, FAILS, WAITS = Outcome.SUCCEEDED, Outcome.FAILED, Outcome.WAITS


def _noop(ctx: StepContext) -> None:
    pass


def _edges(definition: SagaDefinition) -> set[tuple[str, str, Outcome | None]]:
    return {(e.source, e.target, e.outcome) for e in state_graph(definition).edges}


def test_order_saga_graph_is_every_transition_of_every_reachable_state():
    """Five actions, three undos, the wait, four ends; the failed step's own undo comes first,
    a waiting or failed undo is overtaken by the earlier ones, the wait leads back to it."""
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
        "wait",
        "completed",
        "failed",
        "compensated",
        "needs_attention",
    ]
    forward = {
        ("a0", "a1", OK),
        ("a0", "failed", FAILS),
        ("a1", "a2", OK),
        ("a1", "c1", FAILS),
        ("a2", "a3", OK),
        ("a2", "c2", FAILS),
        ("a3", "a4", OK),
        ("a3", "c3", FAILS),
        ("a4", "completed", OK),
        ("a4", "c3", FAILS),
    }
    # Undo i goes to the next earlier undo left, whatever its outcome (only the first pass
    # moves from c3 or c2 to c1); at the end of a pass the saga waits, or ends.
    ends = {"wait", "compensated", "needs_attention"}
    undos = {
        *{("c3", t, o) for t in ("c2", "c1") for o in (OK, FAILS, WAITS)},
        *{("c2", "c1", o) for o in (OK, FAILS, WAITS)},
        *{(c, end, OK) for c in ("c3", "c2", "c1") for end in ends - {"wait"}},
        *{(c, "wait", o) for c in ("c2", "c1") for o in (OK, FAILS)},
        *{(c, "wait", WAITS) for c in ("c3", "c2", "c1")},
        *{(c, "needs_attention", FAILS) for c in ("c3", "c2", "c1")},
        *{("wait", c, None) for c in ("c3", "c2", "c1")},
    }
    assert _edges(ORDER_PROCESSING) == forward | undos
    assert len(graph.edges) == 38
    assert graph.node("c2").label == "undo process_payment"


def test_a_saga_without_undos_has_no_compensation_and_no_undo_ends():
    """Nothing to undo: every failure is FAILED, and COMPENSATED is never reached."""
    definition = SagaDefinition("plain", [SagaStep("one", _noop), SagaStep("two", _noop)])
    graph = state_graph(definition)
    assert [n.key for n in graph.nodes] == ["a0", "a1", "completed", "failed"]
    assert _edges(definition) == {
        ("a0", "a1", OK),
        ("a0", "failed", FAILS),
        ("a1", "completed", OK),
        ("a1", "failed", FAILS),
    }
    assert {n.kind for n in graph.terminals()} == {SagaStatus.COMPLETED, SagaStatus.FAILED}


def test_an_undo_on_the_first_step_makes_failed_unreachable():
    """When step 0 can be undone, no failure ends in FAILED: the graph leaves it out."""
    definition = SagaDefinition(
        "undo_first", [SagaStep("one", _noop, compensation=_noop), SagaStep("two", _noop)]
    )
    keys = [n.key for n in state_graph(definition).nodes]
    assert keys == ["a0", "c0", "a1", "wait", "completed", "compensated", "needs_attention"]
    assert ("a1", "c0", FAILS) in _edges(definition)


def test_the_drawing_order_of_the_ends_lists_every_terminal_status_once():
    """TERMINAL_ORDER orders the model's TERMINAL_STATUSES: none missing, none twice."""
    assert sorted(TERMINAL_ORDER) == sorted(TERMINAL_STATUSES)
