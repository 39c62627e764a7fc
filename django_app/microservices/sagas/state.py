"""The saga's whole state, `(current step, compensating?)`, and the one function that moves it.

This is Eventuate Tram's idea (SagaExecutionState): no flags, no history, just where the saga
stands and which way it is going. `transition` is pure, so the runner, the tests and the Mermaid
drawing all read the same rules, and the picture cannot drift from the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models.sagas import SagaStatus
from .definition import SagaDefinition

__all__ = ["SagaState", "transition"]


@dataclass(frozen=True)
class SagaState:
    step: int
    compensating: bool
    status: str


def _last_compensable(definition: SagaDefinition, start: int) -> int | None:
    """The highest step index <= start that has a compensation, or None."""
    for i in range(start, -1, -1):
        if definition.steps[i].compensation is not None:
            return i
    return None


def transition(definition: SagaDefinition, state: SagaState, succeeded: bool) -> SagaState:
    """The next state after the current step's action or compensation succeeded or gave up."""
    i = state.step
    if not state.compensating:
        if succeeded:
            if i + 1 < len(definition):
                return SagaState(i + 1, False, SagaStatus.RUNNING)
            return SagaState(i, False, SagaStatus.COMPLETED)
        # The failed step itself comes first: it may have applied part of its effect.
        j = _last_compensable(definition, i)
        if j is None:
            return SagaState(i, False, SagaStatus.FAILED)
        return SagaState(j, True, SagaStatus.COMPENSATING)
    if not succeeded:
        return SagaState(i, True, SagaStatus.NEEDS_ATTENTION)
    j = _last_compensable(definition, i - 1) if i > 0 else None
    if j is None:
        return SagaState(i, True, SagaStatus.COMPENSATED)
    return SagaState(j, True, SagaStatus.COMPENSATING)
