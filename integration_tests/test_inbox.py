"""The inbox on PostgreSQL: concurrent deliveries of one event apply it once, and no row lock is
held while a handler waits on another service."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import connection

from django_interlink.events.consumer import Dispatcher, Outcome
from django_interlink.events.handlers import HandlerRegistry
from django_interlink.exceptions import RetryableHandlerError
from django_interlink.models import InboxEvent
from integration_tests.event_helpers import applied_counts, order_event, sent_statements
from integration_tests.event_helpers import registry as helper_registry
from mock_services.inventory.store import WIDGET_ID
from mock_services.waiting import wait_until
from shop.event_samples import sample_envelope
from shop.handlers import registry as shop_registry
from shop.models import UserProfile


@pytest.mark.django_db(transaction=True)
def test_two_consumers_racing_on_one_event_apply_it_once(postgres):
    """The second delivery waits on the unique (event_id, handler) row, then skips: one effect."""
    body = order_event(0, handler_sleep=0.5).to_bytes()
    results = []
    barrier = threading.Barrier(2)

    def deliver() -> None:
        try:
            barrier.wait()
            results.append(Dispatcher(helper_registry).dispatch(body).outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [Outcome.ACK, Outcome.ACK]
    assert applied_counts() == (1, 1, 0)
    assert InboxEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_failed_handler_leaves_no_inbox_row_so_the_retry_applies_it(postgres):
    """A failure after the effect rolls both back; the redelivery applies the event once."""
    envelope = order_event(0)
    calls = []
    registry = HandlerRegistry()

    @registry.handler("order.created", name="it.fails_once")
    def fails_once(env):
        helper_registry.handlers_for("order.created")[0].func(env)
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("lost the downstream service after writing")

    dispatcher = Dispatcher(registry)
    outcomes = [dispatcher.dispatch(envelope.to_bytes(), delivery_count=n).outcome for n in (1, 2)]
    assert outcomes == [Outcome.RETRY, Outcome.ACK]
    assert applied_counts() == (1, 1, 0)


@pytest.mark.django_db(transaction=True)
def test_a_handler_waiting_on_a_service_holds_no_transaction_and_no_lock(
    postgres, services_settings, reset_stubs
):
    """While order.created's stock check is held up by the inventory stub, the consumer's
    database session is idle: a second consumer of the event would not wait on the inbox row."""
    inventory = reset_stubs["inventory"]
    inventory.faults.add(method="GET", path="/products/{product_id}", kind="latency", delay=3.0)
    item = {"product_id": WIDGET_ID, "quantity": 1, "unit_price": 100}
    body = sample_envelope("order.created", items=[item], total_amount=100).to_bytes()
    backend_pids, outcomes = [], []

    def consume() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                backend_pids.append(cursor.fetchone()[0])
            outcomes.append(Dispatcher(shop_registry).dispatch(body).outcome)
        finally:
            connection.close()

    consumer = threading.Thread(target=consume)
    consumer.start()
    try:
        wait_until(
            lambda: inventory.requests(method="GET"),
            timeout=30,
            what="the handler's stock check to reach the inventory stub",
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", backend_pids)
            (state,) = cursor.fetchone()
            cursor.execute("SELECT locktype, mode FROM pg_locks WHERE pid = %s", backend_pids)
            locks = cursor.fetchall()
    finally:
        consumer.join(30)
    assert (state, locks) == ("idle", [])
    assert outcomes == [Outcome.ACK]
    assert InboxEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_window_claims_its_inbox_rows_in_one_statement_and_takes_no_savepoint(postgres):
    """On PostgreSQL a window of 3 messages, each with two inbox handlers, sends one INSERT for
    the 6 inbox rows and no SAVEPOINT, and applies all 6."""
    registry = HandlerRegistry()
    registry.add("user.created", lambda envelope: None, name="it.window.first")
    registry.add("user.created", lambda envelope: None, name="it.window.second")
    events = [sample_envelope("user.created") for _ in range(3)]
    with sent_statements() as sent:
        results = Dispatcher(registry).dispatch_window([(e.to_bytes(), 1) for e in events])
    assert [r.outcome for r in results] == [Outcome.ACK] * 3
    assert (sent["INSERT"], sent["SAVEPOINT"]) == (1, 0)
    assert InboxEvent.objects.count() == 6


@pytest.mark.django_db(transaction=True)
def test_after_a_failure_a_window_takes_one_savepoint_per_message(postgres):
    """Message 2 of 3 fails: the window is rolled back and decided again, one SAVEPOINT for each
    other message (its two inbox rows and effects together); the failure keeps no row."""
    failing = sample_envelope("user.created")
    registry = HandlerRegistry()
    registry.add("user.created", lambda envelope: None, name="it.window.first")

    @registry.handler("user.created", name="it.window.second")
    def second(envelope):
        if envelope.event_id == failing.event_id:
            raise RetryableHandlerError("not this one")

    events = [sample_envelope("user.created"), failing, sample_envelope("user.created")]
    with sent_statements() as sent:
        results = Dispatcher(registry).dispatch_window([(e.to_bytes(), 1) for e in events])
    assert [r.outcome for r in results] == [Outcome.ACK, Outcome.RETRY, Outcome.ACK]
    assert sent["SAVEPOINT"] == 2
    assert {str(i) for i in InboxEvent.objects.values_list("event_id", flat=True)} == {
        events[0].event_id,
        events[2].event_id,
    }
    assert InboxEvent.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_a_unique_violation_in_a_window_fails_its_message_only(postgres):
    """On PostgreSQL an IntegrityError aborts the whole transaction tried at once: the window is
    decided again, the clashing message alone is retried, the others commit."""
    first, last = (sample_envelope("user.created", user_id=str(uuid.uuid4())) for _ in range(2))
    clash = sample_envelope("user.created", user_id=first.data["user_id"])
    registry = HandlerRegistry()

    @registry.handler("user.created", name="it.window.profile")
    def create_profile(envelope):
        UserProfile.objects.create(
            user_id=envelope.data["user_id"], email=envelope.data["email"], name="x"
        )

    window = [(e.to_bytes(), 1) for e in (first, clash, last)]
    results = Dispatcher(registry).dispatch_window(window)
    assert [r.outcome for r in results] == [Outcome.ACK, Outcome.RETRY, Outcome.ACK]
    assert "IntegrityError" in results[1].reason
    assert UserProfile.objects.count() == 2
    assert {str(i) for i in InboxEvent.objects.values_list("event_id", flat=True)} == {
        first.event_id,
        last.event_id,
    }


@pytest.mark.django_db(transaction=True)
def test_two_consumers_racing_on_one_window_in_opposite_orders_apply_each_event_once(postgres):
    """The same 5 events reach two consumers, one in reverse order: the inbox rows are claimed
    in key order whatever the window's, so the two cannot deadlock on them (no fallback, no
    savepoint); the second waits for the first's commit and skips every event."""
    events = [sample_envelope("user.created", user_id=str(uuid.uuid4())) for _ in range(5)]
    bodies = [(e.to_bytes(), 1) for e in events]
    barrier = threading.Barrier(2)
    outcomes: list[list[Outcome]] = []
    savepoints: list[int] = []
    registry = HandlerRegistry()

    @registry.handler("user.created", name="it.window.race")
    def create_profile(envelope):
        time.sleep(0.05)  # both consumers are in their windows at once
        UserProfile.objects.create(
            user_id=envelope.data["user_id"], email=envelope.data["email"], name="x"
        )

    def deliver(window: list[tuple[bytes, int]]) -> None:
        try:
            with sent_statements() as sent:
                barrier.wait()
                results = Dispatcher(registry).dispatch_window(window)
            outcomes.append([r.outcome for r in results])
            savepoints.append(sent["SAVEPOINT"])
        finally:
            connection.close()

    threads = [
        threading.Thread(target=deliver, args=(window,)) for window in (bodies, bodies[::-1])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes == [[Outcome.ACK] * 5] * 2
    assert savepoints == [0, 0]
    assert UserProfile.objects.count() == 5
    # the winner's rows went in in key order (their ids), whatever its window's order was
    claimed = [str(i) for i in InboxEvent.objects.order_by("id").values_list("event_id", flat=True)]
    assert claimed == sorted(e.event_id for e in events)
