"""What a waiting saga waits for: the undo it will try again, why, and when.

A saga whose undo failed for a passing reason is released with `not_before` (runner.py); the
admin and the orders API show this, so nobody has to read step logs to know that a refund is
waiting for the payments service and will be tried again at 10:42.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..models.sagas import (
    ACTIVE_STATUSES,
    SagaExecution,
    SagaStepLog,
    StepDirection,
    StepLogStatus,
)

__all__ = ["Waiting", "waiting_for"]


@dataclass(frozen=True)
class Waiting:
    step: str  # the step whose undo waits
    reason: str  # the error of its last attempt (for operators: it may name services)
    since: datetime | None  # when the saga first had to wait
    next_attempt_at: datetime
    waits: int  # how many times it has waited so far

    def __str__(self) -> str:
        when = self.next_attempt_at.strftime("%Y-%m-%d %H:%M:%S %Z")
        return f"undo of {self.step or '?'} waits (#{self.waits}) until {when}: {self.reason}"


def waiting_for(execution: SagaExecution, logs: list[SagaStepLog] | None = None) -> Waiting | None:
    """The wait of an active saga released until `not_before`; None for any other saga.

    `logs`: the saga's step logs if already fetched (else the last failed undo is queried).
    """
    if execution.status not in ACTIVE_STATUSES or execution.not_before is None:
        return None
    undo = [
        log
        for log in (logs if logs is not None else _failed_undos(execution))
        if log.direction == StepDirection.COMPENSATION and log.status == StepLogStatus.FAILED
    ]
    last = max(undo, key=lambda log: (log.started_at, log.pk)) if undo else None
    return Waiting(
        step=last.step_name if last else "",
        reason=last.error if last else "",
        since=execution.waiting_since,
        next_attempt_at=execution.not_before,
        waits=execution.waits,
    )


def _failed_undos(execution: SagaExecution) -> list[SagaStepLog]:
    return list(
        execution.step_logs.filter(
            direction=StepDirection.COMPENSATION, status=StepLogStatus.FAILED
        ).order_by("-started_at", "-pk")[:1]
    )
