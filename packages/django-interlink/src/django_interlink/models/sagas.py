"""Durable saga state: one `SagaExecution` per saga run, one `SagaStepLog` row per attempt.

The execution row is the saga engine's whole state, `(current_step, compensating)` and the undos
left (sagas/state.py), plus the context the steps share; the lease columns let one worker at a
time own a running saga, and `not_before` keeps a waiting saga from every worker until its time.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone

__all__ = ["SagaExecution", "SagaStatus", "SagaStepLog", "StepDirection", "StepLogStatus"]


class SagaStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    # The first action failed and nothing had to be undone.
    FAILED = "failed", "Failed"
    COMPENSATING = "compensating", "Compensating"
    COMPENSATED = "compensated", "Compensated"
    # An undo failed for good (or waited past COMPENSATION_HORIZON): a human must look; the
    # other undos are done, nothing is hidden.
    NEEDS_ATTENTION = "needs_attention", "Needs attention"


TERMINAL_STATUSES = frozenset(
    {
        SagaStatus.COMPLETED,
        SagaStatus.FAILED,
        SagaStatus.COMPENSATED,
        SagaStatus.NEEDS_ATTENTION,
    }
)
ACTIVE_STATUSES = frozenset({SagaStatus.PENDING, SagaStatus.RUNNING, SagaStatus.COMPENSATING})


class StepDirection(models.TextChoices):
    ACTION = "action", "Action"
    COMPENSATION = "compensation", "Compensation"


class StepLogStatus(models.TextChoices):
    # A row left RUNNING belongs to a process that died during the attempt.
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"


class SagaExecution(models.Model):
    saga_id = models.CharField(max_length=100, unique=True)
    saga_type = models.CharField(max_length=100)
    status = models.CharField(max_length=20, choices=SagaStatus.choices, default=SagaStatus.PENDING)
    # Index of the step being run (forward) or undone (compensating).
    current_step = models.IntegerField(default=0)
    compensating = models.BooleanField(default=False)
    # While compensating: step indexes whose undo is not done yet (None on rows written before
    # this column: every step up to current_step that has an undo), and those that failed.
    undos_left = models.JSONField(null=True, blank=True, default=None)
    undos_failed = models.JSONField(blank=True, default=list)
    # A saga whose undo waits for a passing failure to clear: no worker claims it before this.
    not_before = models.DateTimeField(null=True, blank=True)
    # When its first wait began (COMPENSATION_HORIZON counts from here), and how many so far.
    waiting_since = models.DateTimeField(null=True, blank=True)
    waits = models.PositiveIntegerField(default=0)
    context_data = models.JSONField(default=dict)
    # The W3C trace context of whoever started the saga (`traceparent`, `tracestate`), and the
    # `run` that last ran it: every run is a span of the starter's trace, and a resumed run links
    # to the one it took over from ({} when tracing is off).
    trace_context = models.JSONField(blank=True, default=dict)
    # Whom the saga is for (e.g. an API's customer), so their sagas are listed by an index
    # rather than by a lookup inside context_data; "" when nobody. Not the lease_owner (the
    # worker running it).
    owner_key = models.CharField(max_length=100, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    lease_owner = models.CharField(max_length=100, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["saga_type", "status"], name="ms_saga_type_status"),
            models.Index(fields=["status", "lease_expires_at"], name="ms_saga_status_lease"),
            models.Index(fields=["created_at"], name="ms_saga_created"),
            # One owner's sagas of one type, newest first (the orders API's list)
            models.Index(
                fields=["owner_key", "saga_type", "-created_at", "-id"], name="ms_saga_owner"
            ),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.saga_type} {self.saga_id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def live_lease(self) -> datetime | None:
        """When the worker's lease on this active saga runs out; None once the saga has ended
        (a finished saga's lease columns mean nothing) or while no worker holds it.

        The one rule the admin, the timeline's callers and the playground read a lease by: an
        active saga whose lease has not lapsed is in a worker's hands (as far as the database
        knows; only the worker's host can tell a dead process sooner)."""
        return self.lease_expires_at if self.status in ACTIVE_STATUSES else None

    def lease_lapsed(self, now: datetime | None = None) -> bool:
        """An active saga whose worker's lease ran out: nobody is running it; resume it."""
        lease = self.live_lease
        return lease is not None and lease <= (now or timezone.now())


class SagaStepLog(models.Model):
    execution = models.ForeignKey(SagaExecution, on_delete=models.CASCADE, related_name="step_logs")
    step_index = models.IntegerField()
    step_name = models.CharField(max_length=100)
    direction = models.CharField(max_length=20, choices=StepDirection.choices)
    attempt = models.PositiveIntegerField()
    status = models.CharField(
        max_length=20, choices=StepLogStatus.choices, default=StepLogStatus.RUNNING
    )
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    worker = models.CharField(max_length=100, blank=True, default="")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["execution", "started_at"], name="ms_saga_log_exec")]
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"{self.step_name} {self.direction} #{self.attempt} ({self.status})"

    @property
    def outcome(self) -> str:
        """Its status once it ended; "interrupted" when no end was recorded, read after the
        fact (while its saga runs, `sagas.selectors.saga_attempts` tells a running attempt
        from an interrupted one by the lease)."""
        return "interrupted" if self.finished_at is None else str(self.status)

    @property
    def duration_ms(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds() * 1000
