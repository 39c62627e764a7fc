"""The transactional outbox: rows commit with the state change; the relay sends them in order."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import OperationalError, transaction
from django.utils import timezone

from django_interlink.events.bus import EventBus
from django_interlink.events.envelope import Envelope
from django_interlink.events.outbox import (
    DECLINED_RETRY_SECONDS,
    outbox_enqueue,
    outbox_pending_count,
    outbox_relay,
)
from django_interlink.events.publish_outcomes import Declined
from django_interlink.exceptions import BusUnavailable, EventContractViolation, PublishError
from django_interlink.models import OutboxEvent, OutboxStatus
from mock_services.waiting import wait_until
from shop.event_samples import sample_data

pytestmark = pytest.mark.django_db


class RefusingBus(EventBus):
    """A bus that refuses some event types and can go away after N publishes (relay paths)."""

    def __init__(
        self,
        *,
        refuse: set[str] | frozenset[str] = frozenset(),
        unavailable_after: int | None = None,
    ):
        super().__init__()
        self.refuse = refuse
        self.unavailable_after = unavailable_after
        self.published: list[Envelope] = []

    def publish(self, envelope: Envelope) -> None:
        if self.unavailable_after is not None and len(self.published) >= self.unavailable_after:
            raise BusUnavailable("broker down")
        if envelope.event_type in self.refuse:
            raise PublishError(f"{envelope.event_type} unroutable")
        self.published.append(envelope)

    def consume(self, **kwargs):
        raise NotImplementedError


def test_event_rolls_back_with_the_transaction_that_wrote_it():
    """An outbox row written in a transaction that rolls back is gone with it."""
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox_enqueue("user.created", sample_data("user.created"))
        raise RuntimeError("the state change failed")
    assert OutboxEvent.objects.count() == 0


def test_an_event_id_already_in_the_outbox_is_kept_once():
    """Publishing again under an event id the outbox holds changes nothing and raises nothing:
    the first row stays, and the caller's transaction carries on."""
    event_id = uuid.uuid4()
    first = sample_data("user.created")
    with transaction.atomic():
        outbox_enqueue("user.created", first, event_id=event_id)
        outbox_enqueue("user.created", {**first, "name": "Someone Else"}, event_id=event_id)
        outbox_enqueue("user.created", first)
    rows = list(OutboxEvent.objects.order_by("id").values_list("event_id", "payload"))
    assert len(rows) == 2
    assert (rows[0][0], rows[0][1]["data"]) == (event_id, first)


def test_invalid_event_is_refused_before_anything_is_written():
    """outbox_enqueue validates against the contract at once, in the producer's transaction."""
    with pytest.raises(EventContractViolation):
        outbox_enqueue("order.created", {"order_id": "nope"})
    assert OutboxEvent.objects.count() == 0


def test_outbox_enqueue_records_the_envelope_with_the_given_correlation_id():
    """The stored payload is the full envelope, pending, with the caller's correlation id."""
    envelope = outbox_enqueue(
        "payment.processed", sample_data("payment.processed"), correlation_id="saga-42"
    )
    row = OutboxEvent.objects.get()
    assert row.status == OutboxStatus.PENDING
    assert row.payload == envelope.to_dict()
    assert (str(row.event_id), row.correlation_id) == (envelope.event_id, "saga-42")


def test_relay_publishes_pending_rows_in_order_and_marks_them_sent(memory_bus):
    """Rows go out oldest first, once: a second relay finds nothing to send."""
    memory_bus.declare(["user.created", "order.created"])
    written = [
        outbox_enqueue("user.created", sample_data("user.created", name=f"user {i}"))
        for i in range(5)
    ] + [outbox_enqueue("order.created", sample_data("order.created"))]
    result = outbox_relay(batch_size=2)
    assert (result.sent, result.batches) == (6, 3)
    assert [e.event_id for e in memory_bus.published] == [e.event_id for e in written]
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}
    assert outbox_relay().sent == 0
    assert len(memory_bus.published) == 6


def test_refused_event_backs_off_without_blocking_the_events_behind_it():
    """An event the broker refuses stays pending with its error; the others are sent."""
    bus = RefusingBus(refuse={"inventory.low"})
    outbox_enqueue("user.created", sample_data("user.created"))
    refused = outbox_enqueue("inventory.low", sample_data("inventory.low"))
    outbox_enqueue("order.cancelled", sample_data("order.cancelled"))
    result = outbox_relay(bus=bus)
    assert (result.sent, result.refused) == (2, 1)
    row = OutboxEvent.objects.get(event_id=refused.event_id)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert "unroutable" in row.last_error
    assert row.next_attempt_at is not None
    # not due yet: the next relay leaves it alone
    assert outbox_relay(bus=bus).refused == 0


def test_event_refused_too_often_is_kept_as_failed_not_dropped(settings):
    """After OUTBOX_MAX_ATTEMPTS refusals the row is FAILED, still in the table for a human."""
    from django_interlink.conf import _merge

    settings.INTERLINK = _merge(settings.INTERLINK, {"EVENT_BUS": {"OUTBOX_MAX_ATTEMPTS": 1}})
    outbox_enqueue("inventory.low", sample_data("inventory.low"))
    outbox_relay(bus=RefusingBus(refuse={"inventory.low"}))
    assert OutboxEvent.objects.get().status == OutboxStatus.FAILED


class NackingBus(RefusingBus):
    """A bus whose broker nacks some event types (declines them for now), as RabbitMQ does."""

    def publish_results(self, envelopes):
        outcomes: list[str | None] = []
        for envelope in envelopes:
            if envelope.event_type in self.refuse:
                outcomes.append(Declined(f"{envelope.event_type}: the broker nacked the event"))
            else:
                self.published.append(envelope)
                outcomes.append(None)
        return outcomes, None


def test_nacked_event_stays_pending_uncounted_and_is_due_again_soon(settings):
    """A nack is the broker declining the event for now, not a verdict on it: the row keeps its
    attempts (never FAILED however often), records the nack, and is due again within seconds."""
    from django_interlink.conf import _merge

    settings.INTERLINK = _merge(settings.INTERLINK, {"EVENT_BUS": {"OUTBOX_MAX_ATTEMPTS": 1}})
    nacked = outbox_enqueue("inventory.low", sample_data("inventory.low"))
    outbox_enqueue("user.created", sample_data("user.created"))
    bus = NackingBus(refuse={"inventory.low"})
    for _ in range(3):
        OutboxEvent.objects.filter(event_id=nacked.event_id).update(next_attempt_at=None)
        result = outbox_relay(bus=bus)
        assert (result.declined, result.refused) == (1, 0)
    row = OutboxEvent.objects.get(event_id=nacked.event_id)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 0)
    assert row.last_error == "inventory.low: the broker nacked the event"
    assert row.next_attempt_at is not None
    assert (row.next_attempt_at - timezone.now()).total_seconds() <= DECLINED_RETRY_SECONDS
    bus.refuse = set()
    OutboxEvent.objects.filter(event_id=nacked.event_id).update(next_attempt_at=None)
    assert outbox_relay(bus=bus).sent == 1
    assert OutboxEvent.objects.get(event_id=nacked.event_id).status == OutboxStatus.SENT


def test_broker_going_away_mid_batch_keeps_what_was_confirmed_and_the_order():
    """Confirmed rows are marked sent; the rest stay pending and go out later in order."""
    envelopes = [
        outbox_enqueue("user.created", sample_data("user.created", name=f"u{i}")) for i in range(4)
    ]
    flaky = RefusingBus(unavailable_after=2)
    with pytest.raises(BusUnavailable):
        outbox_relay(bus=flaky)
    assert outbox_pending_count() == 2
    healthy = RefusingBus()
    assert outbox_relay(bus=healthy).sent == 2
    assert [e.event_id for e in flaky.published + healthy.published] == [
        e.event_id for e in envelopes
    ]


@pytest.mark.django_db(transaction=True)
def test_relay_loop_publishes_what_is_committed_later_and_stops_on_request(memory_bus):
    """The relay command's loop keeps polling, relays new rows, and exits when asked."""
    import threading

    from django.db import connection

    from django_interlink.events.outbox import outbox_relay_loop

    def run_relay():
        try:
            outcome.append(outbox_relay_loop(bus=memory_bus, stop=stop, interval=0.05))
        finally:
            connection.close()

    memory_bus.declare(["user.created"])
    stop = threading.Event()
    outcome: list[Any] = []
    relay = threading.Thread(target=run_relay)
    relay.start()
    try:
        # SQLite's shared-cache test database refuses (not waits) while the relay thread reads.
        enqueued: list[Any] = []

        def enqueue() -> bool:
            try:
                enqueued.append(outbox_enqueue("user.created", sample_data("user.created")))
            except OperationalError:
                return False
            return True

        wait_until(enqueue, timeout=10, interval=0.02, what="the outbox row to be written")
        envelope = enqueued[0]
        wait_until(
            lambda: memory_bus.published, timeout=10, interval=0.02, what="the relay to publish"
        )
    finally:
        stop.set()
        relay.join(10)
    assert [e.event_id for e in memory_bus.published] == [envelope.event_id]
    assert outcome[0].sent == 1


def test_purges_forget_old_sent_rows_and_old_inbox_rows_only(memory_bus):
    """Sent outbox rows and inbox rows past the cutoff go; pending outbox rows always stay."""
    from datetime import timedelta

    from django.utils import timezone

    from django_interlink.events.inbox import inbox_purge
    from django_interlink.events.outbox import outbox_purge_sent
    from django_interlink.models import InboxEvent

    memory_bus.declare(["user.created"])
    outbox_enqueue("user.created", sample_data("user.created"))
    outbox_relay()
    outbox_enqueue("user.created", sample_data("user.created"))  # still pending
    long_ago = timezone.now() - timedelta(days=30)
    OutboxEvent.objects.filter(status=OutboxStatus.SENT).update(sent_at=long_ago)
    old = InboxEvent.objects.create(event_id=uuid.uuid4(), handler="h", event_type="user.created")
    InboxEvent.objects.create(event_id=uuid.uuid4(), handler="h", event_type="user.created")
    InboxEvent.objects.filter(pk=old.pk).update(processed_at=long_ago)
    assert outbox_purge_sent(older_than=timedelta(days=7)) == 1
    assert inbox_purge(older_than=timedelta(days=7)) == 1
    assert list(OutboxEvent.objects.values_list("status", flat=True)) == [OutboxStatus.PENDING]
    assert InboxEvent.objects.count() == 1
