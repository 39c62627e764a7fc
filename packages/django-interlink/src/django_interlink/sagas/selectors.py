"""How a saga execution reads to a person: where it is, and each attempt's state.

The read side beside services.py (which moves sagas): the admin, the playground and the demo
ask these, so a saga's position and an unfinished attempt read the same wherever they show.
The lease rule itself is the model's (`SagaExecution.live_lease`, `.lease_lapsed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone

from ..models.sagas import SagaExecution, SagaStatus, SagaStepLog
from .definition import SagaDefinition
from .registry import get_definition
from .timeline import Attempt, read_attempts

__all__ = ["definition_of", "position", "saga_attempts"]


def definition_of(saga_type: str) -> SagaDefinition | None:
    """The registered definition of `saga_type`; None for a type no longer registered (old
    rows stay readable)."""
    try:
        return get_definition(saga_type)
    except LookupError:
        return None


def position(execution: SagaExecution) -> str:
    """Where the saga is, by step name: "3/5 process_payment", "undoing 3/5 ...", "done"."""
    definition = definition_of(execution.saga_type)
    total = len(definition) if definition is not None else None
    if execution.status == SagaStatus.COMPLETED:
        return f"all {total} steps done" if total else "all steps done"
    name = "?"
    if definition is not None and 0 <= execution.current_step < len(definition):
        name = definition.steps[execution.current_step].name
    where = f"{execution.current_step + 1}/{total or '?'} {name}"
    if execution.status == SagaStatus.COMPENSATED:
        return "all undone"
    if execution.status == SagaStatus.FAILED:
        return f"stopped at {where}"
    if execution.status == SagaStatus.NEEDS_ATTENTION:
        return f"undo failed at {where}"
    if execution.compensating:
        return f"undoing {where}"
    return where


def saga_attempts(
    execution: SagaExecution,
    logs: Sequence[SagaStepLog] | None = None,
    *,
    now: datetime | None = None,
    owner_dead: bool = False,
) -> list[Attempt]:
    """Each attempt of the saga, read against its live lease: an unfinished one is "running"
    while a live worker holds the saga, else "interrupted" (timeline.read_attempts).

    `logs`: the saga's step logs in start order if already fetched. `owner_dead`: the caller
    knows the lease's owner has died (see read_attempts)."""
    return read_attempts(
        list(execution.step_logs.all()) if logs is None else logs,
        now=now or timezone.now(),
        lease_expires_at=execution.live_lease,
        owner_dead=owner_dead,
    )
