"""The saga engine: a small state machine over a `SagaDefinition`, persisted after every move.

The whole state is `(current step, compensating?)` and one function, `transition`, advances it
(as in Eventuate Tram's SagaExecutionState). `_Runner.run` loops: save "step i starts" (state,
log row, lease), run it with its retries, then save its result with the next state in the same
write as the next step's start. The undo of step i is thereby recorded before step i runs, so a
step that failed half-way is compensated too, then the earlier ones in reverse.
A process that dies anywhere leaves a row whose lease expires; `saga_resume_stale` (the
`resume_sagas` command) claims it with SELECT ... FOR UPDATE SKIP LOCKED and continues in the
stored direction; every service call carries an Idempotency-Key derived from saga_id, step and
direction, so repeating the interrupted call never applies it twice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from ..conf import ms_settings
from ..exceptions import SagaLeaseLost, StepRejected
from ..models.sagas import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    SagaExecution,
    SagaStatus,
    SagaStepLog,
    StepDirection,
    StepLogStatus,
)
from .definition import RetryPolicy, SagaDefinition, SagaStep, StepContext
from .registry import get_definition

logger = logging.getLogger(__name__)

CRASH_ENV = "SAGA_CRASH_AT"

__all__ = [
    "SagaResult",
    "SagaState",
    "saga_claim_stale",
    "saga_create",
    "saga_execute",
    "saga_resume",
    "saga_resume_stale",
    "saga_retry_compensation",
    "transition",
    "worker_id",
]


# ---------------------------------------------------------------------------------------------
# The state machine


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


# ---------------------------------------------------------------------------------------------
# Results, identities, test hook


@dataclass(frozen=True)
class SagaResult:
    saga_id: str
    saga_type: str
    status: str
    error: str = ""
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status == SagaStatus.COMPLETED

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_execution(cls, execution: SagaExecution) -> SagaResult:
        return cls(
            saga_id=execution.saga_id,
            saga_type=execution.saga_type,
            status=execution.status,
            error=execution.error_message,
            context=dict(execution.context_data),
        )


def worker_id() -> str:
    """A name for this process as a lease owner: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def crash_point(name: str) -> None:
    """Test-only: SIGKILL this process at the named point when SAGA_CRASH_AT names it.

    Points are `before_action:<step>`, `after_action:<step>` (the call returned, nothing saved),
    the same with `compensation`, and `<direction>:<step>:<name>` inside a step.
    """
    wanted = os.environ.get(CRASH_ENV)
    if wanted and wanted == name:
        logger.warning("saga crash point %s reached: killing pid %s", name, os.getpid())
        os.kill(os.getpid(), signal.SIGKILL)


def _lease_seconds(lease_seconds: float | None) -> float:
    return float(lease_seconds if lease_seconds is not None else ms_settings.SAGA["LEASE_SECONDS"])


# ---------------------------------------------------------------------------------------------
# Persistence


@dataclass
class _Attempt:
    """The last attempt of a step, whose log row is closed together with the next state."""

    ok: bool
    error: str
    log: SagaStepLog
    log_status: str
    events: list[tuple[str, dict[str, Any]]]


@dataclass
class _Carry:
    """A finished step whose result is written with the next step's start."""

    attempt: _Attempt
    message: str | None


class _Runner:
    """Runs one claimed execution to a terminal state (or until its lease is lost).

    One write per step: "step i ended (log row closed, its events into the outbox), the saga
    is now at step j, whose attempt 1 starts (log row opened, lease renewed)".
    """

    def __init__(
        self,
        definition: SagaDefinition,
        execution: SagaExecution,
        owner: str,
        lease_seconds: float,
    ) -> None:
        self.definition = definition
        self.execution = execution
        self.owner = owner
        self.lease = timedelta(seconds=lease_seconds)
        # A PENDING saga has never started a step (the first start also leaves PENDING).
        self.first_step = execution.status != SagaStatus.PENDING

    def _save(self, *, release: bool = False, **fields: Any) -> None:
        """Write fields of the execution if we still own it; renew (or release) the lease."""
        now = timezone.now()
        fields.setdefault("context_data", self.execution.context_data)
        fields["lease_expires_at"] = None if release else now + self.lease
        if release:
            fields["lease_owner"] = ""
        fields["updated_at"] = now
        updated = SagaExecution.objects.filter(pk=self.execution.pk, lease_owner=self.owner).update(
            **fields
        )
        if updated != 1:
            raise SagaLeaseLost(operation=self.execution.saga_id)
        for name, value in fields.items():
            setattr(self.execution, name, value)

    def checkpoint(self) -> None:
        self._save()

    def _begin_attempt(
        self,
        state: SagaState,
        step: SagaStep,
        direction: str,
        attempt: int,
        key: str,
        carry: _Carry | None = None,
    ) -> SagaStepLog:
        """Record "attempt n of this step starts" (and, in the same commit, how the previous
        step ended, so "after step i" and "before step i+1" are one write)."""
        fields: dict[str, Any] = {
            "status": state.status,
            "current_step": state.step,
            "compensating": state.compensating,
        }
        if carry is not None and carry.message is not None:
            fields["error_message"] = carry.message[:4000]
        log = SagaStepLog(
            execution=self.execution,
            step_index=state.step,
            step_name=step.name,
            direction=direction,
            attempt=attempt,
            status=StepLogStatus.RUNNING,
            idempotency_key=key,
            worker=self.owner,
            started_at=timezone.now(),
        )
        self._write(fields, close=carry.attempt if carry else None, open_log=log)
        return log

    def _finish_step(self, attempt: _Attempt, state: SagaState, error: str | None) -> None:
        fields: dict[str, Any] = {
            "status": state.status,
            "current_step": state.step,
            "compensating": state.compensating,
        }
        if error is not None:
            fields["error_message"] = error[:4000]
        terminal = state.status in TERMINAL_STATUSES
        if terminal:
            fields["completed_at"] = timezone.now()
        self._write(fields, close=attempt, release=terminal)

    def _write(
        self,
        fields: dict[str, Any],
        *,
        close: _Attempt | None = None,
        open_log: SagaStepLog | None = None,
        release: bool = False,
    ) -> None:
        """One atomic move: execution fields (lease-guarded), a log row closed, one opened,
        the closed attempt's events put in the outbox."""
        if connection.vendor == "postgresql":
            if close is None or not close.events:
                self._write_one_statement(fields, close=close, open_log=open_log, release=release)
                return
            with transaction.atomic():  # the events commit with the state, or neither does
                self._write_one_statement(fields, close=close, open_log=open_log, release=release)
                self._publish_events(close)
            return
        with transaction.atomic():
            self._save(release=release, **fields)
            if close is not None:
                self._close_attempt(close)
            if open_log is not None:
                open_log.save(force_insert=True)

    def _write_one_statement(
        self,
        fields: dict[str, Any],
        *,
        close: _Attempt | None,
        open_log: SagaStepLog | None,
        release: bool,
    ) -> None:
        """The same move as one PostgreSQL statement (data-modifying CTEs: atomic on its own,
        one round trip instead of five; the hot path of every step)."""
        now = timezone.now()
        fields = {
            "context_data": self.execution.context_data,
            **fields,
            "lease_expires_at": None if release else now + self.lease,
            "updated_at": now,
        }
        if release:
            fields["lease_owner"] = ""
        ex_meta, log_meta = SagaExecution._meta, SagaStepLog._meta
        sets: list[str] = []
        params: list[Any] = []
        for name, value in fields.items():
            column = ex_meta.get_field(name).column  # type: ignore[union-attr]
            if name == "context_data":
                sets.append(f'"{column}" = %s::jsonb')
                params.append(json.dumps(value, cls=DjangoJSONEncoder))
            else:
                sets.append(f'"{column}" = %s')
                params.append(value)
        params += [self.execution.pk, self.owner]
        log_table = log_meta.db_table
        close_id = close.log.pk if close is not None else None
        if close is not None:
            params += [close.log_status, close.error[:2000], now, close_id]
        else:
            params += ["", "", now, None]
        insert_columns = (
            "step_index",
            "step_name",
            "direction",
            "attempt",
            "status",
            "idempotency_key",
            "worker",
            "started_at",
            "error",
        )
        if open_log is not None:
            params += [getattr(open_log, c) for c in insert_columns[:-1]] + ["", True]
        else:
            params += [0, "", "", 0, "", "", "", now, "", False]
        columns = ", ".join(f'"{c}"' for c in insert_columns)
        sql = f"""
            WITH ex AS (
                UPDATE "{ex_meta.db_table}" SET {", ".join(sets)}
                WHERE "id" = %s AND "lease_owner" = %s RETURNING "id"
            ), closed AS (
                UPDATE "{log_table}" SET "status" = %s, "error" = %s, "finished_at" = %s
                WHERE "id" = %s AND EXISTS (SELECT 1 FROM ex)
            ), opened AS (
                INSERT INTO "{log_table}" ("execution_id", {columns})
                SELECT ex."id", %s, %s, %s, %s, %s, %s, %s, %s, %s FROM ex WHERE %s
                RETURNING "id"
            )
            SELECT (SELECT count(*) FROM ex), (SELECT "id" FROM opened)
        """  # noqa: S608  (identifiers come from model metadata, values are parameters)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None or row[0] != 1:
            raise SagaLeaseLost(operation=self.execution.saga_id)
        for name, value in fields.items():
            setattr(self.execution, name, value)
        if open_log is not None:
            open_log.pk = row[1]
            open_log._state.adding = False

    def _close_attempt(self, attempt: _Attempt) -> None:
        self._close_log(attempt.log, attempt.log_status, attempt.error)
        self._publish_events(attempt)

    def _publish_events(self, attempt: _Attempt) -> None:
        if attempt.events:
            _publish(
                attempt.events,
                saga_id=self.execution.saga_id,
                step=attempt.log.step_name,
                direction=attempt.log.direction,
            )

    @staticmethod
    def _close_log(log: SagaStepLog, status: str, error: str = "") -> None:
        SagaStepLog.objects.filter(pk=log.pk).update(
            status=status, error=error[:2000], finished_at=timezone.now()
        )

    def run(self) -> SagaResult:
        ex = self.execution
        state = SagaState(ex.current_step, ex.compensating, ex.status)
        if state.status == SagaStatus.PENDING:
            state = SagaState(0, False, SagaStatus.RUNNING)
        carry: _Carry | None = None
        while state.status not in TERMINAL_STATUSES:
            step = self.definition.steps[state.step]
            attempt = self._run_step(state, step, carry)
            nxt = transition(self.definition, state, attempt.ok)
            message: str | None = None
            if not attempt.ok and not state.compensating:
                message = f"{step.name}: {attempt.error}"
            elif not attempt.ok:
                message = f"{ex.error_message}; compensation of {step.name} failed: {attempt.error}"
            logger.info(
                "saga %s %s of %s %s -> %s",
                ex.saga_id,
                "compensation" if state.compensating else "action",
                step.name,
                "ok" if attempt.ok else f"failed ({attempt.error})",
                nxt.status,
            )
            if nxt.status in TERMINAL_STATUSES:
                self._finish_step(attempt, nxt, message)
                carry = None
            else:
                # Saved together with the start of the next step, in one commit.
                carry = _Carry(attempt, message)
            state = nxt
        return SagaResult.from_execution(ex)

    def _policy(self, step: SagaStep, compensating: bool) -> RetryPolicy:
        if not compensating:
            return step.retry
        if step.compensation_retry is not None:
            return step.compensation_retry
        conf = ms_settings.SAGA
        # An undo must happen eventually: every error is worth another try.
        return RetryPolicy(
            attempts=int(conf["COMPENSATION_ATTEMPTS"]),
            backoff=float(conf["COMPENSATION_BACKOFF"]),
            backoff_max=float(conf["COMPENSATION_BACKOFF_MAX"]),
            is_retryable=lambda exc: True,
        )

    def _previous_attempts(self, state: SagaState, direction: str) -> int:
        # Within one run a (step, direction) is visited once; only the step a run starts on
        # (after a crash or a retried compensation) can have attempts from an earlier run.
        if not self.first_step:
            return 0
        self.first_step = False
        return SagaStepLog.objects.filter(
            execution=self.execution, step_index=state.step, direction=direction
        ).count()

    def _run_step(self, state: SagaState, step: SagaStep, carry: _Carry | None) -> _Attempt:
        """Run the action (or compensation) of one step with its retry policy and time budget."""
        compensating = state.compensating
        direction = str(StepDirection.COMPENSATION if compensating else StepDirection.ACTION)
        fn = step.compensation if compensating else step.action
        assert fn is not None  # transition() only lands on steps with a compensation
        policy = self._policy(step, compensating)
        timeout = float(
            step.timeout if step.timeout is not None else ms_settings.SAGA["STEP_TIMEOUT"]
        )
        previous = self._previous_attempts(state, direction)
        started = time.monotonic()
        n = 0
        while True:
            n += 1
            ctx = StepContext(
                saga_id=self.execution.saga_id,
                step=step.name,
                direction=direction,
                attempt=previous + n,
                data=self.execution.context_data,
                timeout=timeout,
                started=started,
                _checkpoint=self.checkpoint,
                _crash_point=crash_point,
            )
            log = self._begin_attempt(
                state, step, direction, ctx.attempt, ctx.idempotency_key(), carry
            )
            carry = None
            crash_point(f"before_{direction}:{step.name}")
            try:
                fn(ctx)
            except SagaLeaseLost:
                raise
            except Exception as exc:
                crash_point(f"after_{direction}:{step.name}")
                error = _describe(exc)
                rejected = isinstance(exc, StepRejected) and not compensating
                status = StepLogStatus.REJECTED if rejected else StepLogStatus.FAILED
                last = _Attempt(False, error, log, status, [])
                if rejected or not policy.is_retryable(exc) or n >= policy.attempts:
                    return last
                delay = policy.delay(n)
                if not compensating and time.monotonic() - started + delay > timeout:
                    last.error = f"{error} (step timeout of {timeout:g}s spent)"
                    return last
                with transaction.atomic():
                    self._save()
                    self._close_log(log, status, error)
                time.sleep(delay)
                continue
            crash_point(f"after_{direction}:{step.name}")
            return _Attempt(True, "", log, StepLogStatus.SUCCEEDED, ctx.events)


def _publish(
    events: list[tuple[str, dict[str, Any]]], *, saga_id: str, step: str, direction: str
) -> None:
    """Hand a step's events to the transactional outbox (inside the caller's transaction)."""
    from ..events.outbox import outbox_enqueue

    for n, (event_type, data) in enumerate(events):
        # A stable id: the same step outcome always names its events the same way.
        event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"saga:{saga_id}:{step}:{direction}:{n}")
        outbox_enqueue(event_type, data, correlation_id=saga_id, event_id=event_id)


def _describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    status = getattr(exc, "status_code", None)
    prefix = exc.__class__.__name__ + (f" {status}" if status else "")
    return f"{prefix}: {text}"


# ---------------------------------------------------------------------------------------------
# Services: start, resume, claim


def saga_execute(
    *,
    definition: SagaDefinition,
    saga_id: str,
    context: dict[str, Any],
    owner: str | None = None,
    lease_seconds: float | None = None,
) -> SagaResult:
    """Run a saga to its end, or return the stored outcome if this saga_id has run already.

    A saga_id that exists but is still running elsewhere (its lease is live) is not run twice:
    the stored, unfinished state is returned.
    """
    owner = owner or worker_id()
    seconds = _lease_seconds(lease_seconds)
    execution = saga_create(
        definition=definition,
        saga_id=saga_id,
        context=context,
        owner=owner,
        lease_seconds=seconds,
    )
    if execution is None:
        existing = SagaExecution.objects.get(saga_id=saga_id)
        if existing.is_terminal or not _claim(existing.pk, owner, seconds):
            return SagaResult.from_execution(existing)
        execution = SagaExecution.objects.get(pk=existing.pk)
    return _Runner(definition, execution, owner, seconds).run()


def saga_create(
    *,
    definition: SagaDefinition,
    saga_id: str,
    context: dict[str, Any],
    owner: str = "",
    lease_seconds: float | None = None,
) -> SagaExecution | None:
    """Store a new PENDING saga (leased to `owner` if given); None if saga_id already exists.

    Without an owner the saga waits for a `resume_sagas` worker to pick it up.
    """
    expires = timezone.now() + timedelta(seconds=_lease_seconds(lease_seconds)) if owner else None
    # Alone, the INSERT is atomic; inside a caller's transaction a savepoint keeps a duplicate
    # saga_id from breaking it.
    guard = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    try:
        with guard:
            return SagaExecution.objects.create(
                saga_id=saga_id,
                saga_type=definition.saga_type,
                status=SagaStatus.PENDING,
                context_data=context,
                lease_owner=owner,
                lease_expires_at=expires,
            )
    except IntegrityError:
        return None


def _claim(pk: int, owner: str, lease_seconds: float) -> bool:
    """Take the lease of one active saga if nobody holds a live one."""
    now = timezone.now()
    return (
        SagaExecution.objects.filter(pk=pk, status__in=ACTIVE_STATUSES)
        .filter(
            Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now) | Q(lease_owner=owner)
        )
        .update(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds))
        == 1
    )


def _run_claimed(pk: int, owner: str, lease_seconds: float) -> SagaResult | None:
    execution = SagaExecution.objects.get(pk=pk)
    definition = get_definition(execution.saga_type)
    try:
        return _Runner(definition, execution, owner, lease_seconds).run()
    except SagaLeaseLost:
        logger.warning("saga %s: lease lost to another worker, stopping", execution.saga_id)
        return None


def saga_resume(
    *, saga_id: str, owner: str | None = None, lease_seconds: float | None = None
) -> SagaResult:
    """Continue an active saga whose lease has expired (or is free), in its stored direction."""
    owner = owner or worker_id()
    seconds = _lease_seconds(lease_seconds)
    execution = SagaExecution.objects.get(saga_id=saga_id)
    if execution.is_terminal or not _claim(execution.pk, owner, seconds):
        return SagaResult.from_execution(execution)
    result = _run_claimed(execution.pk, owner, seconds)
    return result or SagaResult.from_execution(SagaExecution.objects.get(pk=execution.pk))


def saga_retry_compensation(
    *, saga_id: str, owner: str | None = None, lease_seconds: float | None = None
) -> SagaResult:
    """Try again the compensations of a NEEDS_ATTENTION saga, from the one that failed."""
    updated = SagaExecution.objects.filter(
        saga_id=saga_id, status=SagaStatus.NEEDS_ATTENTION
    ).update(status=SagaStatus.COMPENSATING, lease_owner="", lease_expires_at=None)
    if updated != 1:
        return SagaResult.from_execution(SagaExecution.objects.get(saga_id=saga_id))
    return saga_resume(saga_id=saga_id, owner=owner, lease_seconds=lease_seconds)


def saga_claim_stale(*, owner: str, limit: int, lease_seconds: float | None = None) -> list[int]:
    """Lease up to `limit` active sagas nobody holds, oldest first; two workers never share one.

    On PostgreSQL the rows are locked with FOR UPDATE SKIP LOCKED, so concurrent workers pass
    over each other's candidates instead of waiting, and the lease is written before the lock
    is released.
    """
    now = timezone.now()
    expires = now + timedelta(seconds=_lease_seconds(lease_seconds))
    claimable = Q(status__in=ACTIVE_STATUSES) & (
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    )
    with transaction.atomic():
        pks = list(
            SagaExecution.objects.select_for_update(skip_locked=True)
            .filter(claimable)
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not pks:
            return []
        # The condition again: a backend without row locks (SQLite) then still hands each
        # saga to one claimer only.
        SagaExecution.objects.filter(claimable, pk__in=pks).update(
            lease_owner=owner, lease_expires_at=expires
        )
        return list(
            SagaExecution.objects.filter(pk__in=pks, lease_owner=owner, lease_expires_at=expires)
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)
        )


def saga_resume_stale(
    *, owner: str | None = None, limit: int = 10, lease_seconds: float | None = None
) -> list[SagaResult]:
    """One pass of the worker: claim stale or unclaimed sagas and run each to its end."""
    owner = owner or worker_id()
    seconds = _lease_seconds(lease_seconds)
    results = []
    # One at a time: a claimed saga's lease starts ticking only when its turn comes.
    for _ in range(limit):
        pks = saga_claim_stale(owner=owner, limit=1, lease_seconds=seconds)
        if not pks:
            break
        result = _run_claimed(pks[0], owner, seconds)
        if result is not None:
            results.append(result)
    return results
