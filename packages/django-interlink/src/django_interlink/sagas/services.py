"""The saga services: start a saga, resume one, claim the ones a dead process left behind.

Only these are called from outside the engine (the shop, admin actions, `manage.py
resume_sagas`). A running saga is leased to one worker; a process that dies anywhere leaves a
row whose lease expires, and `saga_resume_stale` claims it (SELECT ... FOR UPDATE SKIP LOCKED)
and continues in the stored direction. Every service call a step makes carries an
Idempotency-Key derived from saga_id, step and direction, so repeating the interrupted call
never applies it twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, IntegrityError, close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from ..conf import ms_settings
from ..exceptions import SagaDefinitionMismatch, SagaLeaseLost
from ..models.sagas import ACTIVE_STATUSES, TERMINAL_STATUSES, SagaExecution, SagaStatus
from ..tracing import capture
from .definition import SagaDefinition
from .registry import get_definition
from .runner import Runner
from .store import SagaExists

__all__ = [
    "SagaResult",
    "saga_claim_stale",
    "saga_create",
    "saga_execute",
    "saga_hand_off",
    "saga_needs_attention",
    "saga_reopen_compensation",
    "saga_resume",
    "saga_resume_stale",
    "saga_retry_compensation",
    "worker_id",
    "worker_pid",
]

logger = logging.getLogger(__name__)


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


def worker_pid(owner: str) -> int | None:
    """The process id inside a `worker_id()` name; None for a name of another shape."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return int(parts[1])


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
    # Unsaved: the store inserts it with the first step's start (ExecutionStore.create_and_begin).
    new = SagaExecution(
        saga_id=saga_id,
        saga_type=definition.saga_type,
        status=SagaStatus.PENDING,
        context_data=context,
        lease_owner=owner,
        trace_context=capture(),
    )
    try:
        Runner(definition, new, owner, seconds).run()
    except SagaExists:
        pass
    else:
        return SagaResult.from_execution(new)
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
    owner_key: str = "",
) -> SagaExecution | None:
    """Store a new PENDING saga (leased to `owner` if given); None if saga_id already exists.

    Without an owner the saga waits for a `resume_sagas` worker to pick it up. `owner_key` says
    whom the saga is for (indexed, to list theirs).
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
                trace_context=capture(),
                owner_key=owner_key,
                lease_owner=owner,
                lease_expires_at=expires,
            )
    except IntegrityError:
        return None


def _due(now: datetime) -> Q:
    """Sagas whose wait, if any, is over."""
    return Q(not_before__isnull=True) | Q(not_before__lte=now)


def _claim(pk: int, owner: str, lease_seconds: float) -> bool:
    """Take the lease of one active, due saga if nobody holds a live one."""
    now = timezone.now()
    return (
        SagaExecution.objects.filter(_due(now), pk=pk, status__in=ACTIVE_STATUSES)
        .filter(
            Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now) | Q(lease_owner=owner)
        )
        .update(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds))
        == 1
    )


def _run_claimed(pk: int, owner: str, lease_seconds: float) -> SagaResult | None:
    """Run one claimed saga; whatever it does, the worker lives on.

    A lost lease stops the run (the new owner carries on). A database error is the database's,
    not the saga's: the run stops, the lease lapses and a later pass resumes it. A saga that
    cannot be loaded or run (its type no longer configured, its definition without the step it
    stands on, a bug in the engine) is moved to NEEDS_ATTENTION with the reason.
    """
    try:
        execution = SagaExecution.objects.get(pk=pk)
        try:
            definition = get_definition(execution.saga_type)
        except (ImproperlyConfigured, LookupError) as exc:
            raise SagaDefinitionMismatch(str(exc), operation=execution.saga_id) from exc
        Runner(definition, execution, owner, lease_seconds).run()
    except SagaLeaseLost:
        logger.warning("saga pk=%s: lease lost to another worker, stopping", pk)
        return None
    except DatabaseError as exc:
        logger.warning(
            "saga pk=%s: database error (%s); its lease will lapse, resumed later", pk, exc
        )
        close_old_connections()  # a broken connection is replaced on the next query
        return None
    except Exception as exc:
        logger.exception("saga pk=%s cannot run; it needs attention", pk)
        return saga_needs_attention(pk=pk, owner=owner, reason=f"{type(exc).__name__}: {exc}")
    return SagaResult.from_execution(execution)


def saga_needs_attention(*, pk: int, owner: str, reason: str) -> SagaResult | None:
    """Stop a saga this worker holds and cannot run: NEEDS_ATTENTION with `reason`, released.

    None when the lease was lost meanwhile (the new owner decides) or the database refuses.
    """
    try:
        updated = SagaExecution.objects.filter(pk=pk, lease_owner=owner).update(
            status=SagaStatus.NEEDS_ATTENTION,
            error_message=f"cannot run: {reason}"[:4000],
            lease_owner="",
            lease_expires_at=None,
            not_before=None,
            updated_at=timezone.now(),
        )
    except DatabaseError:
        close_old_connections()
        return None
    return SagaResult.from_execution(SagaExecution.objects.get(pk=pk)) if updated else None


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


def saga_hand_off(*, saga_id: str) -> bool:
    """Give an active saga nobody runs (lease lapsed or never taken, or waiting to retry an
    undo) to the `resume_sagas` workers now: its lease and its wait are cleared, so the next
    worker pass claims it. Runs nothing here.

    False if the saga is finished or a live worker still holds it.
    """
    now = timezone.now()
    return (
        SagaExecution.objects.filter(saga_id=saga_id, status__in=ACTIVE_STATUSES)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(lease_owner="", lease_expires_at=None, not_before=None)
        == 1
    )


def saga_reopen_compensation(*, saga_id: str) -> bool:
    """Give a NEEDS_ATTENTION saga back to the workers, unowned. One that was undoing goes back
    to COMPENSATING from its newest undo left: the next `resume_sagas` pass tries every undo
    not done yet again, the failed ones included, with a fresh COMPENSATION_HORIZON. One that
    could not run at all (its definition did not match: fixed since) goes on from the step it
    stood on. False if it was not stuck."""
    with transaction.atomic():
        execution = (
            SagaExecution.objects.select_for_update()
            .filter(saga_id=saga_id, status=SagaStatus.NEEDS_ATTENTION)
            .first()
        )
        if execution is None:
            return False
        left = execution.undos_left
        step = max(left) if execution.compensating and left else execution.current_step
        SagaExecution.objects.filter(pk=execution.pk).update(
            status=SagaStatus.COMPENSATING if execution.compensating else SagaStatus.RUNNING,
            current_step=step,
            undos_failed=[],
            lease_owner="",
            lease_expires_at=None,
            not_before=None,
            waiting_since=None,
            waits=0,
        )
    return True


def saga_retry_compensation(
    *, saga_id: str, owner: str | None = None, lease_seconds: float | None = None
) -> SagaResult:
    """Try again, here and now, the compensations of a NEEDS_ATTENTION saga, from the one that
    failed (a worker does the same after `saga_reopen_compensation`)."""
    if not saga_reopen_compensation(saga_id=saga_id):
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
    claimable = (
        Q(status__in=ACTIVE_STATUSES)
        & (Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        & _due(now)
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
