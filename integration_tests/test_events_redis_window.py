"""Consume windows on a real Redis: up to N stream entries per read, decided in one transaction
and acknowledged by one XACK after the commit, with every guarantee of the per-entry path: only
a failing entry is retried or dead-lettered, a crash before the commit leaves the window pending
(reclaimed, applied once), and a quiet stream is acked at once.
"""

from __future__ import annotations

import signal
import threading

import pytest

from integration_tests.event_helpers import (
    applied_counts,
    configured_bus,
    order_event,
    start_consumer,
)
from integration_tests.event_helpers import registry as helper_registry
from integration_tests.test_events_window import stop_process_when_dead, transaction_id
from microservices.events.crash import CRASH_ENV
from microservices.events.handlers import HandlerRegistry
from microservices.exceptions import PermanentHandlerError, RetryableHandlerError
from microservices.models import InboxEvent
from mock_services.waiting import wait_until
from shop.event_samples import sample_envelope


@pytest.mark.django_db(transaction=True)
def test_a_failing_entry_in_a_window_alone_is_retried_or_dead_lettered(redis_server, unique_name):
    """A window of 5 read at once: the permanent failure goes to the dead stream, the transient
    one is retried and then handled, the other 3 are committed in one transaction and acked."""
    events = [sample_envelope("order.cancelled") for _ in range(5)]
    dead, flaky = events[1], events[3]
    calls: list[str] = []
    in_window: list[int] = []
    registry = HandlerRegistry()

    @registry.handler("order.cancelled", name="it.redis_window")
    def handle(envelope):
        calls.append(envelope.event_id)
        in_window.append(transaction_id())
        if envelope.event_id == dead.event_id:
            raise PermanentHandlerError("unknown order")
        if envelope.event_id == flaky.event_id and calls.count(flaky.event_id) == 1:
            raise RetryableHandlerError("downstream is down")

    with configured_bus("redis", redis_server.url, unique_name, CONSUME_WINDOW=5) as bus:
        bus.declare(["order.cancelled"])
        for event in events:
            bus.publish(event)
        assert bus.consume(registry=registry, max_messages=5, idle_timeout=20) == 5
        dead_letters = bus.dead_letters()
        pending = bus.client.xpending(bus.stream("order.cancelled"), unique_name)["pending"]
    assert sorted(calls) == sorted([e.event_id for e in events] + [flaky.event_id])
    # the first delivery of all 5 in one transaction, the retry in another
    assert len(set(in_window[:5])) == 1 and in_window[5] != in_window[0]
    assert [d["reason"] for d in dead_letters] == ["it.redis_window: unknown order"]
    assert [d["deliveries"] for d in dead_letters] == ["1"]
    handled = {str(i) for i in InboxEvent.objects.values_list("event_id", flat=True)}
    assert handled == {e.event_id for e in events} - {dead.event_id}
    assert pending == 0


@pytest.mark.django_db(transaction=True)
def test_a_quiet_stream_is_acked_without_waiting_for_the_window_to_fill(redis_server, unique_name):
    """One entry, window 50: it is committed and acknowledged while the consumer keeps running
    (a read returns what the stream holds), long before it would go idle."""
    registry = HandlerRegistry()
    registry.add("user.created", lambda envelope: None, name="it.redis_quiet")
    sent = sample_envelope("user.created")
    settled: list[int] = []
    with configured_bus("redis", redis_server.url, unique_name, CONSUME_WINDOW=50) as bus:
        bus.declare(["user.created"])
        stream = bus.stream("user.created")
        bus.publish(sent)
        stop = threading.Event()
        consumer = threading.Thread(
            target=lambda: settled.append(
                bus.consume(registry=registry, stop=stop, idle_timeout=120)
            )
        )
        consumer.start()
        try:
            wait_until(
                lambda: (
                    InboxEvent.objects.filter(event_id=sent.event_id).exists()
                    and bus.client.xpending(stream, unique_name)["pending"] == 0
                ),
                timeout=60,
                what="the single entry committed and acknowledged",
            )
            running = consumer.is_alive()
        finally:
            stop.set()
            consumer.join(timeout=30)
    assert running  # acknowledged by a consumer still waiting for more, not by its exit
    assert settled == [1]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_consumer_killed_before_its_window_commits_leaves_it_pending_and_applied_once(
    redis_server, unique_name
):
    """SIGKILLed between its window's handlers and the commit, a consumer leaves nothing applied
    and its window pending (unacknowledged); XAUTOCLAIM hands it to the next consumer, which
    applies every event exactly once."""
    total = 40
    with configured_bus("redis", redis_server.url, unique_name) as bus:
        bus.declare(["order.created"])
        for i in range(total):
            bus.publish(order_event(i))
        stream = bus.stream("order.created")
        doomed = start_consumer(
            "redis",
            redis_server.url,
            unique_name,
            "order.created",
            extra_args=("--window", "20"),
            env={CRASH_ENV: "window:before_commit"},
        )
        doomed_output = stop_process_when_dead(doomed)
        assert doomed.returncode == -signal.SIGKILL, doomed_output[-3000:]
        assert applied_counts() == (0, 0, 0)  # the window's effects died with its transaction
        assert bus.client.xpending(stream, unique_name)["pending"] == 20  # read, none acked
        # this process takes over, in windows too, reclaiming entries idle for over 1 s
        with configured_bus(
            "redis", redis_server.url, unique_name, CONSUME_WINDOW=20, REDIS_CLAIM_IDLE_MS=1000
        ) as windowed:
            done = windowed.consume(registry=helper_registry, max_messages=total, idle_timeout=20)
        pending_after = bus.client.xpending(stream, unique_name)["pending"]
    assert done == total
    assert applied_counts() == (total, total, 0)
    assert InboxEvent.objects.filter(handler="it.count_order").count() == total
    assert pending_after == 0
