"""Event tables: the transactional outbox and the consumer inbox.

`OutboxEvent` rows are written in the producer's own transaction and published later by the
relay; `InboxEvent` rows commit together with a handler's effect, so a redelivered event has no
second effect.
"""

from __future__ import annotations

from django.db import models

__all__ = ["InboxEvent", "OutboxEvent", "OutboxStatus"]


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    # Refused by the broker (unroutable, contract) OUTBOX_MAX_ATTEMPTS times: kept for a human, not
    # dropped. Nacks do not count (outbox.py).
    FAILED = "failed", "Failed"


class OutboxEvent(models.Model):
    # The auto id is the publication order: rows are relayed by ascending id.
    event_id = models.UUIDField(unique=True)
    event_type = models.CharField(max_length=100)
    correlation_id = models.CharField(max_length=128, blank=True, default="")
    # The whole envelope, validated against the contract when the row was written.
    payload = models.JSONField()
    # The W3C trace context (traceparent, tracestate) current when the event was enqueued: the
    # relay's publish span is its child ({} when tracing is off).
    trace_context = models.JSONField(blank=True, default=dict)
    status = models.CharField(
        max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    # A row the broker refused waits until then before the next attempt.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"],
                name="ms_outbox_pending",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["event_type", "created_at"], name="ms_outbox_type_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} ({self.status})"


class InboxEvent(models.Model):
    event_id = models.UUIDField()
    # The handler's registered name: one event may feed several handlers, each exactly once.
    handler = models.CharField(max_length=200)
    event_type = models.CharField(max_length=100)
    correlation_id = models.CharField(max_length=128, blank=True, default="")
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event_id", "handler"], name="ms_inbox_event_handler")
        ]
        indexes = [models.Index(fields=["processed_at"], name="ms_inbox_processed")]

    def __str__(self) -> str:
        return f"{self.handler} <- {self.event_type} {self.event_id}"
