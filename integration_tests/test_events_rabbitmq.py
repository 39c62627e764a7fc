"""Events on a real RabbitMQ: round trips, poison messages, retries, restarts and crashes.

Every test has its own exchange, queues and consumer group (`unique_name`); Django's database is
the PostgreSQL server, so inbox rows and handler effects are real transactions.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from typing import Any

import pika
import pytest

from django_interlink.conf import DEFAULTS
from django_interlink.events.contract import get_contract
from django_interlink.events.handlers import HandlerRegistry
from django_interlink.exceptions import PermanentHandlerError, PublishError, RetryableHandlerError
from django_interlink.models import InboxEvent
from integration_tests.event_helpers import (
    POISON_KINDS,
    applied_counts,
    configured_bus,
    order_event,
    poison_body,
    recording_registry,
    start_consumer,
    stop_process,
    wait_for_applications,
)
from servers.endpoint import CallbackController
from servers.waiting import wait_until
from shop.event_samples import sample_envelope

EVENT_TYPES = get_contract().event_types
# The consumer sub-processes run with the project's defaults; queues must be declared alike.
SUBPROCESS_BUS = {key: DEFAULTS["EVENT_BUS"][key] for key in ("MAX_DELIVERIES", "RETRY_BACKOFF")}


def queue_depth(url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_event_type_round_trips_through_rabbitmq(rabbitmq, unique_name, event_type):
    """What is published is what the handler gets, with its id and correlation id, once."""
    with configured_bus("rabbitmq", rabbitmq.url, unique_name) as bus:
        registry, received = recording_registry(event_type)
        bus.declare([event_type])
        sent = sample_envelope(event_type)
        bus.publish(sent)
        assert bus.consume(registry=registry, max_messages=1, idle_timeout=10) == 1
    assert received == [sent]
    assert InboxEvent.objects.filter(event_id=sent.event_id).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", POISON_KINDS)
def test_poison_message_is_dead_lettered_and_the_consumer_keeps_running(
    rabbitmq, unique_name, kind
):
    """The poison message lands in the DLQ with its reason; the next good event is handled."""
    with configured_bus("rabbitmq", rabbitmq.url, unique_name) as bus:
        registry, received = recording_registry("user.created")
        bus.declare(["user.created"])
        poison = poison_body(kind)
        bus.publish_raw("user.created", poison)
        good = sample_envelope("user.created")
        bus.publish(good)
        assert bus.consume(registry=registry, max_messages=2, idle_timeout=10) == 2
        dead = bus.dead_letter_box().read()
    assert received == [good]
    assert len(dead) == 1
    body, headers = dead[0].body, dead[0].headers
    assert body == poison  # dead-lettered as it was published, byte for byte
    assert headers["x-dead-reason"].startswith("contract:")
    assert headers["x-original-routing-key"] == "user.created"


@pytest.mark.django_db(transaction=True)
def test_failing_handler_is_retried_then_dead_lettered_never_acked(rabbitmq, unique_name):
    """A handler that keeps failing runs MAX_DELIVERIES (3) times, then the event is in the DLQ."""
    calls = []
    registry = HandlerRegistry()

    @registry.handler("order.cancelled", name="it.always_fails")
    def always_fails(envelope):
        calls.append(envelope.event_id)
        raise RetryableHandlerError("downstream is down")

    with configured_bus("rabbitmq", rabbitmq.url, unique_name) as bus:
        bus.declare(["order.cancelled"])
        sent = sample_envelope("order.cancelled")
        bus.publish(sent)
        assert bus.consume(registry=registry, max_messages=1, idle_timeout=10) == 1
        dead = bus.dead_letter_box().read()
    assert calls == [sent.event_id] * 3
    assert [json.loads(d.body)["event_id"] for d in dead] == [sent.event_id]
    assert dead[0].headers["x-deliveries"] == 3
    assert "downstream is down" in dead[0].headers["x-dead-reason"]
    assert InboxEvent.objects.count() == 0
    assert queue_depth(rabbitmq.url, f"{unique_name}.order.cancelled") == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
def test_always_failing_handler_is_dead_lettered_after_max_deliveries_while_others_flow(
    rabbitmq, unique_name, queue_type
):
    """On either queue type an always-failing handler runs exactly MAX_DELIVERIES (4) times, then
    its event is in the DLQ; events published after it are handled while it waits for a retry."""
    max_deliveries = 4
    log: list[tuple[str, str]] = []  # ("bad" | "good", event_id), in the order handled
    bad = sample_envelope("order.cancelled")
    early = [sample_envelope("order.cancelled") for _ in range(3)]
    late = sample_envelope("order.cancelled")
    registry = HandlerRegistry()
    with configured_bus(
        "rabbitmq",
        rabbitmq.url,
        unique_name,
        RABBITMQ_QUEUE_TYPE=queue_type,
        MAX_DELIVERIES=max_deliveries,
        RETRY_BACKOFF=1.0,  # waits of 1, 2 and 4 s before attempts 2, 3 and 4
        # One message in hand at a time: a consumer that kept the failed message while it waited
        # would hold up every event behind it.
        RABBITMQ_PREFETCH=1,
    ) as bus:

        @registry.handler("order.cancelled", name="it.fails_on_one")
        def fails_on_one(envelope):
            if envelope.event_id != bad.event_id:
                log.append(("good", envelope.event_id))
                return
            log.append(("bad", envelope.event_id))
            if log.count(("bad", bad.event_id)) == 1:
                bus.publish(late)  # published while the bad event waits for its first retry
            raise RetryableHandlerError("downstream is down")

        bus.declare(["order.cancelled"])
        bus.publish_many([bad, *early])
        stop = threading.Event()
        guard = threading.Timer(90, stop.set)  # a message retried forever must not hang the test
        guard.start()
        try:
            settled = bus.consume(registry=registry, stop=stop, max_messages=5, idle_timeout=60)
        finally:
            guard.cancel()
        dead = bus.dead_letter_box().read()
    bad_calls = [i for i, entry in enumerate(log) if entry == ("bad", bad.event_id)]
    goods = sorted(e.event_id for e in [*early, late])
    assert len(bad_calls) == max_deliveries
    assert sorted(event_id for kind, event_id in log[: bad_calls[-1]] if kind == "good") == goods
    assert sorted(event_id for kind, event_id in log if kind == "good") == goods
    assert [json.loads(d.body)["event_id"] for d in dead] == [bad.event_id]
    assert dead[0].headers.get("x-attempt") == max_deliveries
    assert "downstream is down" in dead[0].headers["x-dead-reason"]
    assert settled == 5
    assert queue_depth(rabbitmq.url, f"{unique_name}.order.cancelled") == 0


@pytest.mark.django_db(transaction=True)
def test_permanent_handler_error_dead_letters_on_the_first_delivery(rabbitmq, unique_name):
    """PermanentHandlerError goes straight to the DLQ: one call, no retries."""
    calls = []
    registry = HandlerRegistry()

    @registry.handler("payment.refunded", name="it.rejects")
    def rejects(envelope):
        calls.append(envelope.event_id)
        raise PermanentHandlerError("refund for an unknown payment")

    with configured_bus("rabbitmq", rabbitmq.url, unique_name) as bus:
        bus.declare(["payment.refunded"])
        bus.publish(sample_envelope("payment.refunded"))
        bus.consume(registry=registry, max_messages=1, idle_timeout=10)
        dead = bus.dead_letter_box().read()
    assert len(calls) == 1
    assert "unknown payment" in dead[0].headers["x-dead-reason"]


@pytest.mark.django_db(transaction=True)
def test_a_batch_the_contract_refuses_one_of_sends_the_others_in_order(rabbitmq, unique_name):
    """publish_results encodes a batch once: the event the contract refuses is not sent and its
    outcome says why; the others are confirmed and arrive in their order."""
    good = [sample_envelope("user.created") for _ in range(3)]
    broken = sample_envelope("user.created")
    broken.data.pop("email")
    with configured_bus("rabbitmq", rabbitmq.url, unique_name) as bus:
        registry, received = recording_registry("user.created")
        bus.declare(["user.created"])
        outcomes, unavailable = bus.publish_results([good[0], broken, good[1], good[2]])
        assert bus.consume(registry=registry, max_messages=3, idle_timeout=10) == 3
    assert unavailable is None
    assert outcomes[0] is None and outcomes[2:] == [None, None]
    assert outcomes[1] is not None and "email" in outcomes[1]
    assert [envelope.event_id for envelope in received] == [e.event_id for e in good]
    assert queue_depth(rabbitmq.url, f"{unique_name}.user.created") == 0


def test_publishing_an_event_no_queue_is_bound_to_raises_publish_error(rabbitmq, unique_name):
    """Mandatory publishing: an unroutable event is returned and raised, not silently dropped."""
    with configured_bus("rabbitmq", rabbitmq.url, unique_name) as bus:
        with pytest.raises(PublishError, match="no queue"):
            bus.publish(sample_envelope("inventory.low"))
        # the channel survives the return: the next routable publish goes through
        bus.declare(["inventory.low"])
        bus.publish(sample_envelope("inventory.low"))
    assert queue_depth(rabbitmq.url, f"{unique_name}.inventory.low") == 1


def events_flow_through_a_broker_outage(rabbitmq, unique_name, go_down) -> None:
    """5000 events published (confirmed batches of 20) and consumed by a sub-process while the
    broker goes down (`go_down()`) and starts again: each applied once, publishing on both sides."""
    total = 5000
    controller = rabbitmq.controller
    with configured_bus("rabbitmq", rabbitmq.url, unique_name, **SUBPROCESS_BUS) as bus:
        bus.declare(["order.created"])
        consumer = start_consumer("rabbitmq", rabbitmq.url, unique_name, "order.created")
        published: list[Any] = []
        failures = []
        back = threading.Event()  # the broker is up again

        def publish_all():
            try:  # in batches of 20, confirmed together, as the outbox relay publishes
                for start in range(0, total, 20):
                    if start >= total // 3 and not back.is_set():
                        time.sleep(0.02)  # slower from here, so the outage falls mid-stream
                    if start >= total - 500:
                        back.wait(timeout=180)  # and the last 500 after it, whatever the timing
                    batch = [order_event(i) for i in range(start, min(total, start + 20))]
                    bus.publish_many(batch)
                    published.extend(e.data["index"] for e in batch)
            except Exception as exc:  # reported below; the test must not hang on it
                failures.append(exc)

        publisher = threading.Thread(target=publish_all)
        publisher.start()
        try:
            wait_until(lambda: len(published) >= total // 3, timeout=60, what="a third published")
            wait_until(lambda: applied_counts()[0] > 0, timeout=60, what="a first event applied")
            before_stop = len(published)
            go_down()
            before_start = len(published)
            controller.start()
            back.set()
            publisher.join(timeout=180)
            assert failures == []
            assert len(published) == total
            wait_for_applications(total, timeout=180)
        finally:
            back.set()
            output = stop_process(consumer)
    assert before_stop > 0  # publishing was under way when the broker went down ...
    assert total - before_start > 0  # ... and went on once it was back
    applied, applications, twice = applied_counts()
    assert (applied, applications, twice) == (total, total, 0), output[-3000:]
    assert InboxEvent.objects.filter(handler="it.count_order").count() == total
    assert "reconnected" in output or "consumer lost" in output


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_broker_restart_while_5000_events_flow_loses_none_and_applies_none_twice(
    rabbitmq, unique_name
):
    """Publisher and consumer both reconnect after a restart; every event applied exactly once."""
    if rabbitmq.controller is None:
        pytest.skip("RabbitMQ comes from RABBITMQ_URL: we don't own it, so we can't restart it")
    events_flow_through_a_broker_outage(rabbitmq, unique_name, rabbitmq.controller.stop)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_broker_sigkill_while_5000_events_flow_loses_none_and_applies_none_twice(
    rabbitmq, unique_name
):
    """A broker SIGKILLed mid-stream loses no confirmed event (quorum queues, persistent
    messages), and what was in flight is sent again and applied once."""
    controller = rabbitmq.controller
    if not isinstance(controller, CallbackController) or not controller.can_kill:
        pytest.skip("only a RabbitMQ node run as our own local process can be SIGKILLed here")
    events_flow_through_a_broker_outage(rabbitmq, unique_name, controller.kill)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sigkilled_consumer_messages_are_redelivered_and_applied_once(rabbitmq, unique_name):
    """Unacked messages of a consumer killed mid-stream go to the next one; none twice."""
    total = 1500
    with configured_bus("rabbitmq", rabbitmq.url, unique_name, **SUBPROCESS_BUS) as bus:
        bus.declare(["order.created"])
        for i in range(total):
            bus.publish(order_event(i))
        first = start_consumer("rabbitmq", rabbitmq.url, unique_name, "order.created")
        try:
            wait_until(
                lambda: first.poll() is not None or applied_counts()[0] >= total // 5,
                timeout=60,
                what="the first consumer to apply a fifth of the events",
            )
        finally:
            first_output = stop_process(first, signal.SIGKILL)
        assert first.returncode == -signal.SIGKILL, first_output[-3000:]
        killed_at = applied_counts()[0]
        second = start_consumer("rabbitmq", rabbitmq.url, unique_name, "order.created")
        try:
            wait_for_applications(total, timeout=120)
        finally:
            output = stop_process(second)
    assert killed_at < total
    assert applied_counts() == (total, total, 0), output[-3000:]
    assert queue_depth(rabbitmq.url, f"{unique_name}.order.created") == 0


@pytest.mark.django_db(transaction=True)
def test_sigterm_finishes_the_message_in_hand_acks_it_and_exits(rabbitmq, unique_name):
    """After SIGTERM nothing is half done: applied + still queued == published, exit code 0."""
    with configured_bus("rabbitmq", rabbitmq.url, unique_name, **SUBPROCESS_BUS) as bus:
        bus.declare(["order.created"])
        for i in range(8):
            bus.publish(order_event(i, handler_sleep=0.5))
        consumer = start_consumer("rabbitmq", rabbitmq.url, unique_name, "order.created")
        try:
            wait_until(lambda: applied_counts()[0] >= 1, timeout=60, what="a first event applied")
        finally:
            output = stop_process(consumer, signal.SIGTERM)
    assert consumer.returncode == 0, output[-2000:]
    applied = applied_counts()[0]
    assert applied < 8
    assert applied + queue_depth(rabbitmq.url, f"{unique_name}.order.created") == 8


def test_redeclaring_a_queue_with_another_delivery_limit_fails_with_a_clear_error(
    rabbitmq, unique_name
):
    """Changing MAX_DELIVERIES under existing queues is refused with an explanation, not a loop."""
    from django_interlink.exceptions import EventError

    with configured_bus("rabbitmq", rabbitmq.url, unique_name, MAX_DELIVERIES=3) as bus:
        bus.declare(["user.created"])
    with (
        configured_bus("rabbitmq", rabbitmq.url, unique_name, MAX_DELIVERIES=7) as bus,
        pytest.raises(EventError, match="MAX_DELIVERIES"),
    ):
        bus.consume(registry=recording_registry("user.created")[0], idle_timeout=1)
