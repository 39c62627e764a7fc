"""transition(), the saga's one pure function: which state each outcome of a step leads to."""

from __future__ import annotations

from dataclasses import replace

import pytest

from django_interlink.sagas.definition import SagaDefinition, SagaStep
from django_interlink.sagas.state import Outcome, SagaState, transition
from tests.sagas.support import Recorder

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_saga_settings")]


def test_transition_moves_forward_then_completes():
    """A successful action advances to the next step; after the last one the saga is completed."""
    d = Recorder().definition(["a", "b"])
    ok = Outcome.SUCCEEDED
    assert transition(d, SagaState(0, False, "running"), ok) == SagaState(1, False, "running")
    assert transition(d, SagaState(1, False, "running"), ok) == SagaState(1, False, "completed")


def test_transition_compensates_the_failed_step_itself_first():
    """A failed action is undone starting with its own compensation, skipping steps without one."""
    d = Recorder().definition(["a", "b", "c"], no_undo=("b",))
    both = frozenset({0, 2})
    assert transition(d, SagaState(2, False, "running"), Outcome.FAILED) == SagaState(
        2, True, "compensating", both
    )
    assert transition(d, SagaState(2, True, "compensating", both), Outcome.SUCCEEDED) == (
        SagaState(0, True, "compensating", frozenset({0}))
    )
    assert transition(
        d, SagaState(0, True, "compensating", frozenset({0})), Outcome.SUCCEEDED
    ) == SagaState(0, True, "compensated")


def test_transition_fails_without_compensation_when_nothing_to_undo():
    """A failure before any step with a compensation ends FAILED, not COMPENSATED."""
    d = Recorder().definition(["a", "b"], no_undo=("a",))
    assert transition(d, SagaState(0, False, "running"), Outcome.FAILED) == SagaState(
        0, False, "failed"
    )


def test_a_waiting_undo_is_overtaken_by_the_earlier_ones_then_waited_for():
    """The refund waits for payments: the stock is released first, then the saga waits for the
    refund, tries it again and ends COMPENSATED."""
    d = Recorder().definition(["reserve", "charge", "ship"])
    state = transition(d, SagaState(2, False, "running"), Outcome.FAILED)
    assert (state.step, state.undos_left) == (2, frozenset({0, 1, 2}))
    state = transition(d, state, Outcome.SUCCEEDED)  # ship undone
    state = transition(d, state, Outcome.WAITS)  # the refund waits
    assert state == SagaState(0, True, "compensating", frozenset({0, 1}))  # release goes on
    state = transition(d, state, Outcome.SUCCEEDED)
    assert state == SagaState(1, True, "compensating", frozenset({1}), waiting=True)
    state = transition(d, SagaState(1, True, "compensating", frozenset({1})), Outcome.WAITS)
    assert state == SagaState(1, True, "compensating", frozenset({1}), waiting=True)
    done = transition(d, SagaState(1, True, "compensating", frozenset({1})), Outcome.SUCCEEDED)
    assert done.status == "compensated"


def test_a_failed_undo_lets_the_others_finish_then_calls_a_person():
    """A permanent failure is set aside: the earlier undos still run, then NEEDS_ATTENTION on
    the failed one, with what is left recorded for the retry."""
    d = Recorder().definition(["reserve", "charge", "ship"])
    state = SagaState(1, True, "compensating", frozenset({0, 1}))
    state = transition(d, state, Outcome.FAILED)
    assert state == SagaState(0, True, "compensating", frozenset({0, 1}), frozenset({1}))
    state = transition(d, state, Outcome.SUCCEEDED)
    assert state == SagaState(1, True, "needs_attention", frozenset({1}), frozenset({1}))


def test_a_failed_undo_waits_for_the_waiting_ones_before_calling_a_person():
    """One undo failed for good, a later one waits: the saga waits for it first."""
    d = Recorder().definition(["reserve", "charge", "ship"])
    state = SagaState(2, True, "compensating", frozenset({0, 1, 2}))
    state = transition(d, state, Outcome.WAITS)
    state = transition(d, state, Outcome.FAILED)
    state = transition(d, state, Outcome.SUCCEEDED)
    assert state == SagaState(
        2, True, "compensating", frozenset({1, 2}), frozenset({1}), waiting=True
    )
    state = transition(d, replace(state, waiting=False), Outcome.SUCCEEDED)
    assert state == SagaState(1, True, "needs_attention", frozenset({1}), frozenset({1}))


def test_an_undo_that_must_come_first_is_never_overtaken():
    """undo_first: while it waits, nothing earlier is undone; when it fails, a person decides."""
    r = Recorder()
    d = SagaDefinition(
        "strict",
        [
            SagaStep("reserve", r.step("reserve"), r.step("reserve")),
            SagaStep("charge", r.step("charge"), r.step("charge"), undo_first=True),
        ],
    )
    state = SagaState(1, True, "compensating", frozenset({0, 1}))
    assert transition(d, state, Outcome.WAITS) == replace(state, waiting=True)
    assert transition(d, state, Outcome.FAILED) == SagaState(
        1, True, "needs_attention", frozenset({0, 1}), frozenset({1})
    )
