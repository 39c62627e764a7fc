"""The inbox on PostgreSQL: concurrent deliveries of one event apply it once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from integration_tests.event_helpers import applied_counts, order_event
from integration_tests.event_helpers import registry as helper_registry
from microservices.events.consumer import Dispatcher, Outcome
from microservices.events.handlers import HandlerRegistry
from microservices.models import InboxEvent


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
