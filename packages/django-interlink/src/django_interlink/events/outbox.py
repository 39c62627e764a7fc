"""The transactional outbox: write events with the state change, publish them afterwards.

Producers call `outbox_enqueue(...)` inside the transaction that changes their state:

    with transaction.atomic():
        order = ...save()
        outbox_enqueue("order.created", {"order_id": ..., ...}, correlation_id=request_id)

The row commits or rolls back with the state change, so a committed change always has its
event. `outbox_relay()` (and `manage.py relay_outbox`) publishes pending rows in id order,
waits for the broker's confirm and marks them sent. Several relays may run at once: each locks
its batch with SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL), so no row is published by two.
A crash between the confirm and the commit republishes the row: delivery is at least once and
consumers deduplicate (inbox.py).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, close_old_connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from ..backoff import exponential_backoff
from ..conf import ms_settings
from ..deletion import delete_in_batches
from ..exceptions import BusUnavailable
from ..metrics import instruments
from ..models import OutboxEvent, OutboxStatus
from ..tracing import capture
from .backends import get_bus
from .bus import EventBus
from .contract import encode_event
from .envelope import Envelope
from .publish_outcomes import Declined
from .trace_context import end_publish_spans, publish_spans

logger = logging.getLogger("django_interlink.events.outbox")


def outbox_enqueue(
    event_type: str,
    data: dict[str, Any],
    *,
    correlation_id: str | None = None,
    version: int = 1,
    producer: str | None = None,
    event_id: str | uuid.UUID | None = None,
    trace_context: Mapping[str, str] | None = None,
) -> Envelope:
    """Record an event in the outbox, in the caller's transaction; returns its envelope.

    Validated against the contract now (`EventContractViolation` rolls back with the caller),
    published by the relay once the transaction has committed. `correlation_id` defaults to
    the current request id, `trace_context` to the current span's (tracing/). Pass `event_id`
    to make a retried producer step idempotent: an id already in the outbox is a no-op (the
    first row stays; the caller's transaction goes on).
    """
    envelope = _envelope(event_type, data, version, correlation_id, producer, event_id)
    # ON CONFLICT DO NOTHING (INSERT OR IGNORE on SQLite): one statement, no savepoint, and no
    # aborted transaction on PostgreSQL when the id is a duplicate.
    OutboxEvent.objects.bulk_create([_row(envelope, trace_context)], ignore_conflicts=True)
    return envelope


def outbox_row(
    event_type: str,
    data: dict[str, Any],
    *,
    correlation_id: str | None = None,
    event_id: str | uuid.UUID | None = None,
    trace_context: Mapping[str, str] | None = None,
) -> OutboxEvent:
    """The unsaved row `outbox_enqueue` would insert, validated the same way: for a writer that
    inserts it within a statement of its own (ON CONFLICT ("event_id") DO NOTHING)."""
    return _row(_envelope(event_type, data, 1, correlation_id, None, event_id), trace_context)


def _envelope(
    event_type: str,
    data: dict[str, Any],
    version: int,
    correlation_id: str | None,
    producer: str | None,
    event_id: str | uuid.UUID | None,
) -> Envelope:
    envelope = Envelope.new(
        event_type,
        data,
        version=version,
        correlation_id=correlation_id,
        producer=producer,
        event_id=event_id,
    )
    encode_event(envelope)  # the contract and size check, before anything is written
    return envelope


def _row(envelope: Envelope, trace_context: Mapping[str, str] | None) -> OutboxEvent:
    return OutboxEvent(
        event_id=envelope.event_id,
        event_type=envelope.event_type,
        correlation_id=envelope.correlation_id[:128],
        payload=envelope.to_dict(),
        trace_context=dict(trace_context) if trace_context is not None else capture(),
    )


@dataclass
class RelayResult:
    sent: int = 0
    # refused by the broker this round (kept pending with a backoff, or FAILED after too many)
    refused: int = 0
    # nacked this round: kept pending, tried again after DECLINED_RETRY_SECONDS, never FAILED
    declined: int = 0
    batches: int = 0


# A nack is the broker declining responsibility for now (a quorum queue without its majority,
# or a channel with a stale view of the queue's leader: docs/clusters.md), not a verdict on the
# event: it does not count toward OUTBOX_MAX_ATTEMPTS, and it is tried again soon, on a fresh
# channel, like a batch the broker could not be reached for.
DECLINED_RETRY_SECONDS = 1.0


def _refusal_backoff(attempts: int) -> timedelta:
    return timedelta(seconds=exponential_backoff(attempts, base=0.5, cap=300.0))


def _relay_batch(bus: EventBus, batch_size: int, result: RelayResult) -> int:
    """Publish one locked batch; returns how many rows it took (0 when nothing is due)."""
    now = timezone.now()
    max_attempts = int(ms_settings.EVENT_BUS["OUTBOX_MAX_ATTEMPTS"])
    tally: list[tuple[str, str]] = []  # (event type, outcome), counted once committed
    with transaction.atomic():
        rows = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(status=OutboxStatus.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by("id")[:batch_size]
        )
        if not rows:
            return 0
        sent_ids: list[int] = []
        envelopes, spans = publish_spans(
            [Envelope.from_dict(row.payload) for row in rows],
            [row.trace_context or {} for row in rows],
            system=bus.backend,
        )
        # One batch, confirmed together: the broker has every row marked sent below.
        outcomes, unavailable = bus.publish_results(envelopes)
        end_publish_spans(spans, outcomes, unavailable)
        for row, outcome in zip(rows, outcomes, strict=False):
            if outcome is None:
                sent_ids.append(row.id)
                tally.append((row.event_type, "sent"))
                continue
            if isinstance(outcome, Declined):
                _declined(row, outcome, now, result)
                tally.append((row.event_type, "nacked"))
                continue
            tally.append((row.event_type, "refused"))
            # This event was refused (unroutable, or the contract changed under it):
            # back off on it alone so it does not block the events behind it.
            row.attempts += 1
            row.last_error = outcome[:2000]
            row.next_attempt_at = now + _refusal_backoff(row.attempts)
            if row.attempts >= max_attempts:
                row.status = OutboxStatus.FAILED
            row.save(update_fields=["attempts", "last_error", "next_attempt_at", "status"])
            result.refused += 1
            logger.error(
                "outbox event %s (%s) refused, attempt %d: %s",
                row.event_id,
                row.event_type,
                row.attempts,
                outcome,
                extra={"event_id": str(row.event_id), "correlation_id": row.correlation_id},
            )
        if sent_ids:
            OutboxEvent.objects.filter(id__in=sent_ids).update(
                status=OutboxStatus.SENT,
                sent_at=timezone.now(),
                attempts=F("attempts") + 1,
                last_error="",
            )
        result.sent += len(sent_ids)
    instruments.relay_outcomes(tally)
    if unavailable is not None:
        raise unavailable
    return len(rows)


def _declined(row: OutboxEvent, outcome: str, now: datetime, result: RelayResult) -> None:
    """Keep a nacked row pending, its attempts untouched, due again shortly."""
    row.last_error = outcome[:2000]
    row.next_attempt_at = now + timedelta(seconds=DECLINED_RETRY_SECONDS)
    row.save(update_fields=["last_error", "next_attempt_at"])
    result.declined += 1
    logger.warning(
        "outbox event %s (%s) nacked by the broker, trying again in %.1fs: %s",
        row.event_id,
        row.event_type,
        DECLINED_RETRY_SECONDS,
        outcome,
        extra={"event_id": str(row.event_id), "correlation_id": row.correlation_id},
    )


def outbox_relay(
    *,
    bus: EventBus | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
) -> RelayResult:
    """Publish every pending outbox row that is due, oldest first; returns the counts.

    Raises `BusUnavailable` when the broker cannot be reached (rows already confirmed are
    marked sent first). Safe to run in several processes at once.
    """
    bus = bus or get_bus()
    size = int(batch_size or ms_settings.EVENT_BUS["OUTBOX_BATCH_SIZE"])
    result = RelayResult()
    while max_batches is None or result.batches < max_batches:
        taken = _relay_batch(bus, size, result)
        if taken == 0:
            break
        result.batches += 1
    if result.sent or result.refused or result.declined:
        logger.info(
            "outbox relay: %d sent, %d refused, %d nacked",
            result.sent,
            result.refused,
            result.declined,
        )
    return result


def outbox_pending_count() -> int:
    return OutboxEvent.objects.filter(status=OutboxStatus.PENDING).count()


def outbox_relay_loop(
    *,
    bus: EventBus,
    stop: threading.Event,
    interval: float | None = None,
    batch_size: int | None = None,
    housekeeping: Callable[[], object] | None = None,
) -> RelayResult:
    """Relay until `stop` is set: publish what is due, sleep `interval` when idle.

    `housekeeping` runs before each round (the command passes the retention schedule, which
    purges only when due): the relay runs wherever the outbox is used, so nothing needs a cron.

    A broker outage or a database error (a lock, a dropped connection) is logged and waited
    out: the batch's transaction rolled back, so its rows are still pending and nothing is lost
    or marked sent. A stop request lets the current batch finish and commit.
    """
    pause = float(
        interval if interval is not None else ms_settings.EVENT_BUS["OUTBOX_POLL_INTERVAL"]
    )
    total = RelayResult()
    while not stop.is_set():
        if housekeeping is not None:
            housekeeping()
        try:
            result = outbox_relay(bus=bus, batch_size=batch_size, max_batches=10)
        except BusUnavailable as exc:
            logger.warning("outbox relay: broker unavailable (%s); retrying in %.1fs", exc, pause)
            stop.wait(pause)
            continue
        except DatabaseError as exc:
            logger.warning("outbox relay: database error (%s); retrying in %.1fs", exc, pause)
            close_old_connections()  # a broken connection is replaced on the next query
            stop.wait(pause)
            continue
        total.sent += result.sent
        total.refused += result.refused
        total.declined += result.declined
        total.batches += result.batches
        if result.batches < 10:
            stop.wait(pause)
    return total


def outbox_purge_sent(*, older_than: timedelta, batch_size: int = 1000) -> int:
    """Delete rows sent longer ago than `older_than` (pending and failed rows are kept)."""
    cutoff = timezone.now() - older_than
    sent = OutboxEvent.objects.filter(status=OutboxStatus.SENT, sent_at__lt=cutoff).order_by()
    return delete_in_batches(sent, batch_size=batch_size)
