"""Consume windows on a real Redis: up to N stream entries per read, decided in one transaction
and acknowledged by one XACK after the commit, with every guarantee of the per-entry path: only
a failing entry is retried or dead-lettered, a duplicate is skipped, a crash before the commit
(of the window tried at once, or of its second try after a failure) leaves the window pending
(reclaimed, applied once), and a quiet stream is acked at once.
"""

from __future__ import annotations

import json
import signal
import threading

import pytest

from django_interlink.events.crash import CRASH_ENV
from django_interlink.events.handlers import HandlerRegistry
from django_interlink.exceptions import PermanentHandlerError, RetryableHandlerError
from django_interlink.models import InboxEvent
from integration_tests.event_helpers import (
    applied_counts,
    assert_window_decided_again,
    called,
    configured_bus,
    order_event,
    sent_statements,
    start_consumer,
    stop_process_when_dead,
    transaction_id,
)
from integration_tests.event_helpers import registry as helper_registry
from mock_services.waiting import wait_until
from shop.event_samples import sample_envelope


@pytest.mark.django_db(transaction=True)
def test_a_failing_entry_in_a_window_alone_is_retried_or_dead_lettered(redis_server, unique_name):
    """A window of 5 read at once: the permanent failure goes to the dead stream, the transient
    one is retried and then handled, the other 3 are committed in one transaction and acked.
    The window tried at once is rolled back at the first failure and decided again a savepoint
    an entry; the failed entry keeps its verdict (its handler is not run again)."""
    events = [sample_envelope("order.cancelled") for _ in range(5)]
    dead, flaky = events[1], events[3]
    calls: list[tuple[str, int]] = []
    registry = HandlerRegistry()

    @registry.handler("order.cancelled", name="it.redis_window")
    def handle(envelope):
        calls.append((envelope.event_id, transaction_id()))
        if envelope.event_id == dead.event_id:
            raise PermanentHandlerError("unknown order")
        if envelope.event_id == flaky.event_id and called(calls, flaky) == 1:
            raise RetryableHandlerError("downstream is down")

    with configured_bus("redis", redis_server.url, unique_name, CONSUME_WINDOW=5) as bus:
        bus.declare(["order.cancelled"])
        for event in events:
            bus.publish(event)
        with sent_statements() as sent:
            assert bus.consume(registry=registry, max_messages=5, idle_timeout=20) == 5
        dead_letters = bus.dead_letter_box().read()
        pending = bus.client.xpending(bus.stream("order.cancelled"), unique_name)["pending"]
    assert_window_decided_again(calls, events, dead, flaky, sent)
    assert [d.reason for d in dead_letters] == ["it.redis_window: unknown order"]
    assert [d.headers["deliveries"] for d in dead_letters] == ["1"]
    handled = {str(i) for i in InboxEvent.objects.values_list("event_id", flat=True)}
    assert handled == {e.event_id for e in events} - {dead.event_id}
    assert pending == 0


@pytest.mark.django_db(transaction=True)
def test_a_window_with_duplicates_takes_one_transaction_one_inbox_insert_and_no_savepoint(
    redis_server, unique_name
):
    """7 entries read at once: 5 new events, one of them published twice, and one handled by an
    earlier window. Each new event's handler runs once, all in one transaction with one INSERT
    for the inbox and no savepoint; the duplicates are acknowledged without running."""
    old = sample_envelope("order.cancelled")
    events = [sample_envelope("order.cancelled") for _ in range(5)]
    calls: list[tuple[str, int]] = []
    registry = HandlerRegistry()

    @registry.handler("order.cancelled", name="it.redis_window.duplicates")
    def handle(envelope):
        calls.append((envelope.event_id, transaction_id()))

    with configured_bus("redis", redis_server.url, unique_name, CONSUME_WINDOW=7) as bus:
        bus.declare(["order.cancelled"])
        bus.publish(old)
        assert bus.consume(registry=registry, max_messages=1, idle_timeout=20) == 1
        calls.clear()
        for event in [*events[:3], events[1], old, *events[3:]]:
            bus.publish(event)
        with sent_statements() as sent:
            assert bus.consume(registry=registry, max_messages=7, idle_timeout=20) == 7
        pending = bus.client.xpending(bus.stream("order.cancelled"), unique_name)["pending"]
    assert sorted(event_id for event_id, _ in calls) == sorted(e.event_id for e in events)
    assert len({txid for _, txid in calls}) == 1
    assert (sent["INSERT"], sent["SAVEPOINT"]) == (1, 0)
    assert InboxEvent.objects.filter(handler="it.redis_window.duplicates").count() == 6
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


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_consumer_killed_while_deciding_a_failed_window_again_leaves_it_pending(
    redis_server, unique_name
):
    """A window of 20 holds an event its handler refuses: the try at once is rolled back, and
    the consumer is SIGKILLed before the second try commits. The window stays pending, nothing
    applied or dead-lettered; reclaimed, the 19 are applied once and the refused one is dead."""
    total = 20
    refused = order_event(7, handler_fails=True)
    with configured_bus("redis", redis_server.url, unique_name) as bus:
        bus.declare(["order.created"])
        for event in [*(order_event(i) for i in range(7)), refused]:
            bus.publish(event)
        for i in range(8, total):
            bus.publish(order_event(i))
        stream = bus.stream("order.created")
        doomed = start_consumer(
            "redis",
            redis_server.url,
            unique_name,
            "order.created",
            extra_args=("--window", str(total)),
            env={CRASH_ENV: "window:before_commit"},
        )
        doomed_output = stop_process_when_dead(doomed)
        assert doomed.returncode == -signal.SIGKILL, doomed_output[-3000:]
        assert "this event asked to fail" in doomed_output  # it died in the second try
        assert applied_counts() == (0, 0, 0)
        assert bus.client.xpending(stream, unique_name)["pending"] == total
        assert bus.dead_letter_box().read() == []
        with configured_bus(
            "redis",
            redis_server.url,
            unique_name,
            CONSUME_WINDOW=total,
            REDIS_CLAIM_IDLE_MS=1000,
        ) as windowed:
            done = windowed.consume(registry=helper_registry, max_messages=total, idle_timeout=20)
        dead_letters = bus.dead_letter_box().read()
        pending_after = bus.client.xpending(stream, unique_name)["pending"]
    assert done == total
    assert applied_counts() == (total - 1, total - 1, 0)
    assert [json.loads(d.body)["event_id"] for d in dead_letters] == [refused.event_id]
    assert "this event asked to fail" in dead_letters[0].reason
    assert pending_after == 0
