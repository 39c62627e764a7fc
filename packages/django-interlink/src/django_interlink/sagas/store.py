"""Saga persistence: lease-guarded writes, and one atomic move per step.

Every write of the execution row names the lease owner in its WHERE clause, so a worker whose
saga was taken over writes nothing and gets SagaLeaseLost. A step's end and the next step's
start are one move: the execution's new state and lease, the ended attempt's log row closed,
the next attempt's row opened, the ended attempt's events put in the outbox. No crash can leave
"step i ended" without "step j starts", or a state without its events. A new saga's row is
inserted with its first attempt's start (`create_and_begin`). On PostgreSQL each move is one
statement (store_postgres.py); elsewhere, a transaction of ORM writes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from ..events.outbox import outbox_enqueue, outbox_row
from ..exceptions import SagaLeaseLost
from ..models.events import OutboxEvent
from ..models.sagas import SagaExecution, SagaStepLog, StepLogStatus
from .definition import StepContext, StepEvent
from .state import SagaState
from .store_postgres import create_in_one_statement, move_in_one_statement

__all__ = ["Attempt", "ExecutionStore", "SagaExists", "StepEnd"]


class SagaExists(Exception):
    """A saga the store was to create has a row already: nothing was written."""


@dataclass
class Attempt:
    """One try of an action or compensation: its log row, and how the try ended."""

    log: SagaStepLog
    status: str  # a StepLogStatus
    error: str = ""
    # A failure worth another try later (the retry policy's is_retryable said so).
    passing: bool = False
    # For the outbox, written when this attempt is.
    events: list[StepEvent] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == StepLogStatus.SUCCEEDED


@dataclass
class StepEnd:
    """A step's last attempt and the saga's error message after it (None: unchanged)."""

    attempt: Attempt
    error_message: str | None


class ExecutionStore:
    """The writes of the worker that holds the lease of one execution (updated in place)."""

    def __init__(self, execution: SagaExecution, owner: str, lease_seconds: float) -> None:
        # An execution not saved yet is inserted by the first begin_attempt (create_and_begin).
        self.execution = execution
        self.owner = owner
        self.lease = timedelta(seconds=lease_seconds)

    def checkpoint(self, events: Sequence[StepEvent] = ()) -> None:
        """Save the context as a step has left it so far, with `events` in the outbox, and
        renew the lease."""
        with transaction.atomic() if events else contextlib.nullcontext():
            self._update(self._with_lease({}, release=False, now=timezone.now()))
            self._publish(events)

    def renew(self) -> bool:
        """Extend the lease from now, writing nothing else; False once another worker holds it.

        The heartbeat calls it from its own thread: it reads only ids, never the context.
        """
        return self._leased().update(lease_expires_at=timezone.now() + self.lease) == 1

    def attempts_logged(self, step: int, direction: str) -> tuple[int, bool]:
        """How many attempts of this step (in this direction) earlier runs logged, and whether
        one of them never ended (its process died, or its end could not be written): what its
        calls did was never recorded."""
        counts = SagaStepLog.objects.filter(
            execution=self.execution, step_index=step, direction=direction
        ).aggregate(
            logged=Count("pk"), unfinished=Count("pk", filter=Q(status=StepLogStatus.RUNNING))
        )
        return int(counts["logged"]), bool(counts["unfinished"])

    def begin_attempt(
        self, state: SagaState, ctx: StepContext, ended: StepEnd | None
    ) -> SagaStepLog:
        """Record "the saga is at `state`, attempt n of this step starts", with how the
        previous step ended in the same move; returns the attempt's open log row. A new
        execution is inserted with it, or SagaExists if its saga_id has a row."""
        log = SagaStepLog(
            execution=self.execution,
            step_index=state.step,
            step_name=ctx.step,
            direction=ctx.direction,
            attempt=ctx.attempt,
            status=StepLogStatus.RUNNING,
            idempotency_key=ctx.idempotency_key(),
            worker=self.owner,
            started_at=timezone.now(),
        )
        fields = _state_fields(state, ended)
        if self.execution._state.adding:
            self.create_and_begin(fields, log)
        else:
            self._move(fields, close=ended.attempt if ended else None, open_log=log, release=False)
        return log

    def create_and_begin(self, fields: dict[str, Any], log: SagaStepLog) -> None:
        """Insert the unsaved execution with `fields` and the lease, and its first attempt's
        open log row `log`, all or nothing: one statement on PostgreSQL, a transaction
        elsewhere. SagaExists if the saga_id has a row already (nothing is written)."""
        fields = self._with_lease(fields, release=False, now=timezone.now())
        for name, value in fields.items():
            setattr(self.execution, name, value)
        if connection.vendor == "postgresql":
            created_id, opened_id = create_in_one_statement(self.execution, log)
            if created_id is None:
                raise SagaExists(self.execution.saga_id)
            self.execution.pk = created_id
            self.execution._state.adding = False
            log.execution_id = created_id
            log.pk = opened_id
            log._state.adding = False
            return
        try:
            # A savepoint inside a caller's transaction: a duplicate saga_id leaves it usable.
            with transaction.atomic():
                self.execution.save(force_insert=True)
                log.execution = self.execution
                log.save(force_insert=True)
        except IntegrityError as exc:
            raise SagaExists(self.execution.saga_id) from exc

    def retry_later(self, attempt: Attempt) -> None:
        """Close a failed attempt that will be tried again; the lease is renewed for the wait."""
        now = timezone.now()
        with transaction.atomic():
            self._update(self._with_lease({}, release=False, now=now))
            _close_log(attempt, now)

    def finish(self, state: SagaState, ended: StepEnd) -> None:
        """Record the terminal `state` with how its last step ended, and release the lease."""
        fields = _state_fields(state, ended)
        fields["completed_at"] = timezone.now()
        self._move(fields, close=ended.attempt, open_log=None, release=True)

    def wait(self, state: SagaState, ended: StepEnd, *, delay: float) -> None:
        """Record the waiting `state` with how its last step ended, and release the saga to
        the workers from `delay` seconds on: it holds no worker while it waits."""
        now = timezone.now()
        ex = self.execution
        fields = _state_fields(state, ended)
        fields.update(
            not_before=now + timedelta(seconds=delay),
            waiting_since=ex.waiting_since or now,
            waits=ex.waits + 1,
        )
        self._move(fields, close=ended.attempt, open_log=None, release=True)

    def _move(
        self,
        fields: dict[str, Any],
        *,
        close: Attempt | None,
        open_log: SagaStepLog | None,
        release: bool,
    ) -> None:
        now = timezone.now()
        fields = self._with_lease(fields, release=release, now=now)
        if connection.vendor != "postgresql":
            with transaction.atomic():
                self._update(fields)
                if close is not None:
                    _close_log(close, now)
                    self._publish(close.events)
                if open_log is not None:
                    open_log.save(force_insert=True)
            return
        # The statement is atomic on its own, one event included (a step's usual one); more
        # events need a transaction around it, to be inserted in their order.
        events = list(close.events) if close is not None else []
        outbox = self._outbox_row(events[0]) if len(events) == 1 else None
        with transaction.atomic() if len(events) > 1 else contextlib.nullcontext():
            updated, opened_id = move_in_one_statement(
                self.execution,
                self.owner,
                fields,
                close_id=close.log.pk if close is not None else None,
                close_status=close.status if close is not None else "",
                close_error=close.error[:2000] if close is not None else "",
                open_log=open_log,
                now=now,
                outbox=outbox,
            )
            self._applied(updated, fields)
            if outbox is None:
                self._publish(events)
        if open_log is not None:
            open_log.pk = opened_id
            open_log._state.adding = False

    def _with_lease(
        self, fields: dict[str, Any], *, release: bool, now: datetime
    ) -> dict[str, Any]:
        """`fields` plus the context (saved with every write) and the lease, renewed or released."""
        fields = {
            "context_data": self.execution.context_data,
            # empty with tracing off; else the run's (sagas/spans.py): a column more, no query
            **({"trace_context": trace} if (trace := self.execution.trace_context) else {}),
            **fields,
            "lease_expires_at": None if release else now + self.lease,
            "updated_at": now,
        }
        if release:
            fields["lease_owner"] = ""
        return fields

    def _leased(self) -> QuerySet[SagaExecution]:
        """The execution row, as long as this worker holds its lease."""
        return SagaExecution.objects.filter(pk=self.execution.pk, lease_owner=self.owner)

    def _update(self, fields: dict[str, Any]) -> None:
        self._applied(self._leased().update(**fields), fields)

    def _applied(self, updated: int, fields: dict[str, Any]) -> None:
        if updated != 1:
            raise SagaLeaseLost(operation=self.execution.saga_id)
        for name, value in fields.items():
            setattr(self.execution, name, value)

    def _outbox_row(self, event: StepEvent) -> OutboxEvent:
        return outbox_row(
            event.event_type,
            event.data,
            correlation_id=self.execution.saga_id,
            event_id=event.event_id,
            trace_context=event.trace_context,
        )

    def _publish(self, events: Sequence[StepEvent]) -> None:
        for event in events:
            outbox_enqueue(
                event.event_type,
                event.data,
                correlation_id=self.execution.saga_id,
                event_id=event.event_id,
                trace_context=event.trace_context,
            )


def _state_fields(state: SagaState, ended: StepEnd | None) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "status": state.status,
        "current_step": state.step,
        "compensating": state.compensating,
        "undos_left": sorted(state.undos_left) if state.compensating else None,
        "undos_failed": sorted(state.undos_failed),
        # A claimed saga runs now; only `wait` sets a time to come back.
        "not_before": None,
    }
    if ended is not None and ended.error_message is not None:
        fields["error_message"] = ended.error_message[:4000]
    return fields


def _close_log(attempt: Attempt, now: datetime) -> None:
    SagaStepLog.objects.filter(pk=attempt.log.pk).update(
        status=attempt.status, error=attempt.error[:2000], finished_at=now
    )
