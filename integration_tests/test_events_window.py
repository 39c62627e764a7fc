"""Consume windows on a real RabbitMQ: N messages per transaction and per (multiple) ack, with
every guarantee of the per-message path: only a failing message is retried or dead-lettered, a
duplicate is skipped, a crash before the commit (of the window tried at once, or of its second
try after a failure) applies nothing twice, and a quiet queue is acked without waiting.
"""

from __future__ import annotations

import contextlib
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
    stop_process,
    stop_process_when_dead,
    transaction_id,
    wait_for_applications,
)
from integration_tests.test_events_rabbitmq import SUBPROCESS_BUS, queue_depth
from mock_services.waiting import WaitTimeout, wait_until
from shop.event_samples import sample_envelope


@pytest.mark.django_db(transaction=True)
def test_a_failing_message_in_a_window_alone_is_retried_or_dead_lettered(rabbitmq, unique_name):
    """A window of 5: the permanent failure is dead-lettered, the transient one retried and then
    handled, the other 3 committed and acked together, inside one transaction. The window tried
    at once is rolled back at the first failure and decided again a savepoint a message; the
    failed message keeps its verdict (its handler is not run again)."""
    events = [sample_envelope("order.cancelled") for _ in range(5)]
    dead, flaky = events[1], events[3]
    calls: list[tuple[str, int]] = []  # (event id, transaction id) of every handler call
    registry = HandlerRegistry()

    @registry.handler("order.cancelled", name="it.window")
    def handle(envelope):
        calls.append((envelope.event_id, transaction_id()))
        if envelope.event_id == dead.event_id:
            raise PermanentHandlerError("unknown order")
        if envelope.event_id == flaky.event_id and called(calls, flaky) == 1:
            raise RetryableHandlerError("downstream is down")

    with configured_bus(
        "rabbitmq", rabbitmq.url, unique_name, CONSUME_WINDOW=5, CONSUME_WINDOW_WAIT=2.0
    ) as bus:
        bus.declare(["order.cancelled"])
        bus.publish_many(events)
        with sent_statements() as sent:
            assert bus.consume(registry=registry, max_messages=5, idle_timeout=20) == 5
        dead_letters = bus.dead_letter_box().read()
    assert_window_decided_again(calls, events, dead, flaky, sent)
    assert [json.loads(d.body)["event_id"] for d in dead_letters] == [dead.event_id]
    assert "unknown order" in dead_letters[0].headers["x-dead-reason"]
    handled = {str(i) for i in InboxEvent.objects.values_list("event_id", flat=True)}
    assert handled == {e.event_id for e in events} - {dead.event_id}
    assert queue_depth(rabbitmq.url, f"{unique_name}.order.cancelled") == 0


@pytest.mark.django_db(transaction=True)
def test_a_window_with_duplicates_takes_one_transaction_one_inbox_insert_and_no_savepoint(
    rabbitmq, unique_name
):
    """7 messages in one window: 5 new events, one of them published twice, and one handled by
    an earlier window. Each new event's handler runs once, all in one transaction with one
    INSERT for the inbox and no savepoint; the duplicates are acked without running."""
    old = sample_envelope("order.cancelled")
    events = [sample_envelope("order.cancelled") for _ in range(5)]
    calls: list[tuple[str, int]] = []
    registry = HandlerRegistry()

    @registry.handler("order.cancelled", name="it.window.duplicates")
    def handle(envelope):
        calls.append((envelope.event_id, transaction_id()))

    with configured_bus(
        "rabbitmq",
        rabbitmq.url,
        unique_name,
        CONSUME_WINDOW=7,
        CONSUME_WINDOW_WAIT=2.0,
        RABBITMQ_PREFETCH=14,
    ) as bus:
        bus.declare(["order.cancelled"])
        bus.publish(old)
        assert bus.consume(registry=registry, max_messages=1, idle_timeout=20) == 1
        calls.clear()
        bus.publish_many([*events[:3], events[1], old, *events[3:]])
        with sent_statements() as sent:
            assert bus.consume(registry=registry, max_messages=7, idle_timeout=20) == 7
    assert sorted(event_id for event_id, _ in calls) == sorted(e.event_id for e in events)
    assert len({txid for _, txid in calls}) == 1
    assert (sent["INSERT"], sent["SAVEPOINT"]) == (1, 0)
    assert InboxEvent.objects.filter(handler="it.window.duplicates").count() == 6
    assert queue_depth(rabbitmq.url, f"{unique_name}.order.cancelled") == 0


@pytest.mark.django_db(transaction=True)
def test_a_quiet_queue_is_acked_without_waiting_for_the_window_to_fill(rabbitmq, unique_name):
    """One message, window 50: it is committed and acked once the short wait is over, long
    before the consumer would go idle; then stopping requeues nothing (it was acked)."""
    registry = HandlerRegistry()
    registry.add("user.created", lambda envelope: None, name="it.quiet")
    sent = sample_envelope("user.created")
    settled: list[int] = []
    with configured_bus(
        "rabbitmq", rabbitmq.url, unique_name, CONSUME_WINDOW=50, CONSUME_WINDOW_WAIT=0.05
    ) as bus:
        bus.declare(["user.created"])
        bus.publish(sent)
        stop = threading.Event()
        consumer = threading.Thread(
            target=lambda: settled.append(
                bus.consume(registry=registry, stop=stop, idle_timeout=120)
            )
        )
        consumer.start()
        try:
            # A window that waited for 49 more would close only when the consumer goes idle.
            wait_until(
                lambda: InboxEvent.objects.filter(event_id=sent.event_id).exists(),
                timeout=60,
                what="the single message committed",
            )
        finally:
            stop.set()
            consumer.join(timeout=30)
        # and with max_messages=1 the call returns as soon as that one message is settled
        bus.publish(sample_envelope("user.created"))
        assert bus.consume(registry=registry, max_messages=1, idle_timeout=120) == 1
    assert settled == [1]
    assert queue_depth(rabbitmq.url, f"{unique_name}.user.created") == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_consumer_killed_before_its_window_commits_applies_every_event_exactly_once(
    rabbitmq, unique_name
):
    """SIGKILLed between its window's handlers and the commit, a consumer leaves nothing applied
    and nothing acked; the next consumer gets the whole window again and applies each event once."""
    total = 40
    with configured_bus("rabbitmq", rabbitmq.url, unique_name, **SUBPROCESS_BUS) as bus:
        bus.declare(["order.created"])
        bus.publish_many([order_event(i) for i in range(total)])
        window = ("--window", "20")
        doomed = start_consumer(
            "rabbitmq",
            rabbitmq.url,
            unique_name,
            "order.created",
            extra_args=window,
            env={CRASH_ENV: "window:before_commit"},
        )
        doomed_output = stop_process_when_dead(doomed)
        assert doomed.returncode == -signal.SIGKILL, doomed_output[-3000:]
        assert applied_counts() == (0, 0, 0)  # the window's effects died with its transaction
        assert queue_depth(rabbitmq.url, f"{unique_name}.order.created") == total  # none acked
        second = start_consumer(
            "rabbitmq", rabbitmq.url, unique_name, "order.created", extra_args=window
        )
        try:
            wait_for_applications(total, timeout=60)
        finally:
            output = stop_process(second)
    assert applied_counts() == (total, total, 0), output[-3000:]
    assert InboxEvent.objects.filter(handler="it.count_order").count() == total
    assert queue_depth(rabbitmq.url, f"{unique_name}.order.created") == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_consumer_killed_while_deciding_a_failed_window_again_applies_every_event_once(
    rabbitmq, unique_name
):
    """A window of 20 holds an event its handler refuses: the try at once is rolled back, and
    the consumer is SIGKILLed before the second try commits. Nothing is applied, acked or
    dead-lettered; the next consumer applies the 19 once and dead-letters the refused one."""
    total = 20
    refused = order_event(7, handler_fails=True)
    with configured_bus("rabbitmq", rabbitmq.url, unique_name, **SUBPROCESS_BUS) as bus:
        bus.declare(["order.created"])
        bus.publish_many([order_event(i) for i in range(7)] + [refused])
        bus.publish_many([order_event(i) for i in range(8, total)])
        window = ("--window", str(total))
        doomed = start_consumer(
            "rabbitmq",
            rabbitmq.url,
            unique_name,
            "order.created",
            extra_args=window,
            env={CRASH_ENV: "window:before_commit"},
        )
        doomed_output = stop_process_when_dead(doomed)
        assert doomed.returncode == -signal.SIGKILL, doomed_output[-3000:]
        assert "this event asked to fail" in doomed_output  # it died in the second try
        assert applied_counts() == (0, 0, 0)
        assert queue_depth(rabbitmq.url, f"{unique_name}.order.created") == total
        assert queue_depth(rabbitmq.url, bus.topology.dead_letter_queue(unique_name)) == 0
        second = start_consumer(
            "rabbitmq", rabbitmq.url, unique_name, "order.created", extra_args=window
        )
        try:
            with contextlib.suppress(WaitTimeout):
                wait_until(
                    lambda: (
                        applied_counts()[1] >= total - 1
                        and queue_depth(rabbitmq.url, bus.topology.dead_letter_queue(unique_name))
                    ),
                    timeout=60,
                    interval=0.5,
                    what="every event applied or dead-lettered",
                )
        finally:
            output = stop_process(second)
        dead_letters = bus.dead_letter_box().read()
    assert applied_counts() == (total - 1, total - 1, 0), output[-3000:]
    assert [json.loads(d.body)["event_id"] for d in dead_letters] == [refused.event_id]
    assert queue_depth(rabbitmq.url, f"{unique_name}.order.created") == 0
