"""The inbox on PostgreSQL: concurrent deliveries of one event apply it once, and no row lock is
held while a handler waits on another service."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from integration_tests.event_helpers import applied_counts, order_event
from integration_tests.event_helpers import registry as helper_registry
from microservices.events.consumer import Dispatcher, Outcome
from microservices.events.handlers import HandlerRegistry
from microservices.models import InboxEvent
from mock_services.inventory.store import WIDGET_ID
from mock_services.waiting import wait_until
from shop.event_samples import sample_envelope
from shop.handlers import registry as shop_registry


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
def test_a_window_takes_one_savepoint_per_message_for_all_its_handlers(postgres):
    """On PostgreSQL a window of 3 messages, each with two inbox handlers, sends 3 SAVEPOINTs
    (each message's inbox rows and effects together), one COMMIT, and applies all 6."""
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql.split(None, 1)[0].upper())
        return execute(sql, params, many, context)

    registry = HandlerRegistry()
    registry.add("user.created", lambda envelope: None, name="it.window.first")
    registry.add("user.created", lambda envelope: None, name="it.window.second")
    events = [sample_envelope("user.created") for _ in range(3)]
    with connection.execute_wrapper(record):
        results = Dispatcher(registry).dispatch_window([(e.to_bytes(), 1) for e in events])
    assert [r.outcome for r in results] == [Outcome.ACK] * 3
    assert statements.count("SAVEPOINT") == 3
    assert InboxEvent.objects.count() == 6
