"""The saga's whole state and the one function that moves it.

This is Eventuate Tram's idea (SagaExecutionState): no flags, no history, just where the saga
stands and which way it is going, `(current step, compensating?)`, plus, once it undoes, which
undos are left. `transition` is pure, so the runner, the tests and the state diagram all read
the same rules, and the picture cannot drift from the engine.

The undo rule. Undos run in reverse order, newest effect first. An undo that cannot finish now
(a passing failure: the service is down, a timeout, a 5xx or 429; its in-run retries spent) is
set aside and waits, and the earlier undos go on; an undo that can never finish (a permanent
failure) is set aside for a person, and the earlier undos go on too. When the pass is over,
the saga waits (released, holding no worker) and tries the set-aside undos again, newest first;
it ends COMPENSATED when none is left, NEEDS_ATTENTION when only failed ones are. Why: each of
a saga's undos reverses its own step's effect in its own service, so their order is a
preference (cancel the order before refunding it), not a dependency, and one stuck undo must
not hold the others hostage (stock stays reserved while a refund waits for payments). A step
whose undo must come first declares `SagaStep(undo_first=True)`: while it waits or fails,
nothing earlier is undone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..models.sagas import SagaStatus
from .definition import SagaDefinition

__all__ = ["Outcome", "SagaState", "transition"]


class Outcome(StrEnum):
    """How one step's action or undo ended, once its in-run retries are over."""

    SUCCEEDED = "succeeded"
    # Gave up: a business rejection, a permanent error, or (forward) the retries or time spent.
    FAILED = "failed"
    # An undo that failed for a passing reason: tried again after a wait.
    WAITS = "waits"


NO_UNDOS: frozenset[int] = frozenset()


@dataclass(frozen=True)
class SagaState:
    step: int
    compensating: bool
    status: str
    # While compensating: the undos not done yet, and those of them that failed for good.
    undos_left: frozenset[int] = NO_UNDOS
    undos_failed: frozenset[int] = NO_UNDOS
    # The undo at `step` is next, after a wait: the saga is released until its time comes.
    waiting: bool = False


def transition(definition: SagaDefinition, state: SagaState, outcome: Outcome) -> SagaState:
    """The next state after the current step's action or undo ended with `outcome`."""
    i = state.step
    if not state.compensating:
        if outcome is Outcome.SUCCEEDED:
            if i + 1 < len(definition):
                return SagaState(i + 1, False, SagaStatus.RUNNING)
            return SagaState(i, False, SagaStatus.COMPLETED)
        # The failed step itself comes first: it may have applied part of its effect.
        undos = frozenset(j for j in range(i + 1) if definition.steps[j].compensation)
        if not undos:
            return SagaState(i, False, SagaStatus.FAILED)
        return SagaState(max(undos), True, SagaStatus.COMPENSATING, undos)
    left = state.undos_left - {i} if outcome is Outcome.SUCCEEDED else state.undos_left
    failed = state.undos_failed | {i} if outcome is Outcome.FAILED else state.undos_failed
    if outcome is not Outcome.SUCCEEDED and definition.steps[i].undo_first:
        status = (
            SagaStatus.NEEDS_ATTENTION if outcome is Outcome.FAILED else SagaStatus.COMPENSATING
        )
        return SagaState(i, True, status, left, failed, waiting=outcome is Outcome.WAITS)
    to_try = left - failed
    earlier = [j for j in to_try if j < i]
    if earlier:
        return SagaState(max(earlier), True, SagaStatus.COMPENSATING, left, failed)
    if to_try:  # the pass is over and some undos wait: start the next pass after a wait
        return SagaState(max(to_try), True, SagaStatus.COMPENSATING, left, failed, waiting=True)
    if failed:
        return SagaState(max(failed), True, SagaStatus.NEEDS_ATTENTION, left, failed)
    return SagaState(i, True, SagaStatus.COMPENSATED)
