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
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

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
    StepDirection,
    StepLogStatus,
)
from .crash import crash_point
from .definition import RetryPolicy, SagaDefinition, SagaStep, StepContext
from .registry import get_definition
from .state import SagaState, transition
from .store import Attempt, ExecutionStore, StepEnd

logger = logging.getLogger(__name__)

__all__ = [
    "SagaResult",
    "saga_claim_stale",
    "saga_create",
    "saga_execute",
    "saga_resume",
    "saga_resume_stale",
    "saga_retry_compensation",
    "worker_id",
]


class Runner:
    """Runs one claimed execution to a terminal state, or until its lease is lost.

    `execution` is updated in place as the store writes it; SagaLeaseLost means another worker
    has taken the saga over, and this one wrote nothing after that.
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
        self.store = ExecutionStore(execution, owner, lease_seconds)
        # A PENDING saga has never started a step; any other may have logged attempts of the
        # step it stopped on (it crashed, or its compensation is being retried).
        self.resuming = execution.status != SagaStatus.PENDING

    def run(self) -> None:
        ex = self.execution
        state = SagaState(ex.current_step, ex.compensating, ex.status)
        if state.status == SagaStatus.PENDING:
            state = SagaState(0, False, SagaStatus.RUNNING)
        # How the previous step ended is written in one move with the next step's start.
        ended: StepEnd | None = None
        while state.status not in TERMINAL_STATUSES:
            step = self.definition.steps[state.step]
            attempt = self._run_step(state, step, ended)
            nxt = transition(self.definition, state, attempt.ok)
            logger.info(
                "saga %s %s of %s %s -> %s",
                ex.saga_id,
                "compensation" if state.compensating else "action",
                step.name,
                "ok" if attempt.ok else f"failed ({attempt.error})",
                nxt.status,
            )
            ended = StepEnd(attempt, self._saga_error(state, step, attempt))
            if nxt.status in TERMINAL_STATUSES:
                self.store.finish(nxt, ended)
            state = nxt

    def _run_step(self, state: SagaState, step: SagaStep, ended: StepEnd | None) -> Attempt:
        """Try the action (or compensation) of one step until it succeeds or gives up."""
        compensating = state.compensating
        direction = str(StepDirection.COMPENSATION if compensating else StepDirection.ACTION)
        fn = step.compensation if compensating else step.action
        assert fn is not None  # transition() only lands on steps with a compensation
        policy = _retry_policy(step, compensating)
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
                _checkpoint=self.store.checkpoint,
                _crash_point=crash_point,
            )
            # Written before fn runs: from here on a failure or a crash undoes this step too.
            log = self.store.begin_attempt(state, ctx, ended)
            ended = None
            crash_point(f"before_{direction}:{step.name}")
            try:
                fn(ctx)
            except SagaLeaseLost:
                raise
            except Exception as exc:
                crash_point(f"after_{direction}:{step.name}")
                rejected = isinstance(exc, StepRejected) and not compensating
                status = StepLogStatus.REJECTED if rejected else StepLogStatus.FAILED
                failed = Attempt(log, status, _describe(exc))
                if rejected or not policy.is_retryable(exc) or n >= policy.attempts:
                    return failed
                delay = policy.delay(n)
                # The time budget bounds actions only: an undo gets every try its policy allows.
                if not compensating and time.monotonic() - started + delay > timeout:
                    failed.error += f" (step timeout of {timeout:g}s spent)"
                    return failed
                self.store.retry_later(failed)
                time.sleep(delay)
                continue
            crash_point(f"after_{direction}:{step.name}")
            return Attempt(log, StepLogStatus.SUCCEEDED, events=ctx.events)

    def _previous_attempts(self, state: SagaState, direction: str) -> int:
        # Within one run a (step, direction) is visited once, so only the first step of a
        # resumed run needs counting: its attempt numbers carry on from the earlier run's.
        if not self.resuming:
            return 0
        self.resuming = False
        return self.store.attempts_logged(state.step, direction)

    def _saga_error(self, state: SagaState, step: SagaStep, attempt: Attempt) -> str | None:
        """The saga's error message once this step has ended; None keeps the stored one."""
        if attempt.ok:
            return None
        if not state.compensating:
            return f"{step.name}: {attempt.error}"
        return (
            f"{self.execution.error_message}; compensation of {step.name} failed: {attempt.error}"
        )


def _retry_policy(step: SagaStep, compensating: bool) -> RetryPolicy:
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


def _describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    status = getattr(exc, "status_code", None)
    prefix = exc.__class__.__name__ + (f" {status}" if status else "")
    return f"{prefix}: {text}"


@dataclass(frozen=True)
class SagaResult:
    """What a service returns: the saga's stored outcome, whether it ran now or earlier."""

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


def _lease_seconds(lease_seconds: float | None) -> float:
    return float(lease_seconds if lease_seconds is not None else ms_settings.SAGA["LEASE_SECONDS"])


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
    Runner(definition, execution, owner, seconds).run()
    return SagaResult.from_execution(execution)


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
        Runner(definition, execution, owner, lease_seconds).run()
    except SagaLeaseLost:
        logger.warning("saga %s: lease lost to another worker, stopping", execution.saga_id)
        return None
    return SagaResult.from_execution(execution)


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
