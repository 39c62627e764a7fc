"""Events on a real Redis: Streams with consumer groups (reliable) and pub/sub (fire-and-forget).

Every test has its own stream prefix and consumer group (`unique_name`).
"""

from __future__ import annotations

import json
import re
import signal
import threading

import pytest
import redis
from django.core.checks import CheckMessage, run_checks

from django_interlink.events.contract import get_contract
from django_interlink.events.handlers import HandlerRegistry
from django_interlink.events.redis_base import text
from django_interlink.events.redis_pubsub import RedisPubSubBus
from django_interlink.events.redis_streams import RedisStreamsBus
from django_interlink.exceptions import PublishError, RetryableHandlerError
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
)
from integration_tests.event_helpers import (
    registry as helper_registry,
)
from mock_services.waiting import wait_until
from shop.event_samples import sample_envelope

EVENT_TYPES = get_contract().event_types


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_event_type_round_trips_through_redis_streams(redis_server, unique_name, event_type):
    """What is XADDed is what the handler gets, once, and the entry is acknowledged."""
    with configured_bus("redis", redis_server.url, unique_name) as bus:
        registry, received = recording_registry(event_type)
        bus.declare([event_type])
        sent = sample_envelope(event_type)
        bus.publish(sent)
        assert bus.consume(registry=registry, max_messages=1, idle_timeout=10) == 1
        pending = bus.client.xpending(bus.stream(event_type), unique_name)["pending"]
    assert received == [sent]
    assert pending == 0
    assert InboxEvent.objects.filter(event_id=sent.event_id).count() == 1


def _poison(kind: str) -> dict:
    if kind == "no-envelope":  # an entry some other producer wrote without our field
        return {"payload": b"{}"}
    return {"envelope": poison_body(kind)}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", [*POISON_KINDS, "no-envelope"])
def test_poison_entry_goes_to_the_dead_stream_and_the_consumer_keeps_running(
    redis_server, unique_name, kind
):
    """The poison entry is acked into the dead stream with its reason; the next one is handled."""
    with configured_bus("redis", redis_server.url, unique_name) as bus:
        registry, received = recording_registry("user.created")
        bus.declare(["user.created"])
        poison_id = bus.publish_raw("user.created", _poison(kind))
        good = sample_envelope("user.created")
        bus.publish(good)
        assert bus.consume(registry=registry, max_messages=2, idle_timeout=10) == 2
        dead = bus.dead_letter_box().read()
        pending = bus.client.xpending(bus.stream("user.created"), unique_name)["pending"]
    assert received == [good]
    assert [(d.headers["entry_id"], d.headers["stream"]) for d in dead] == [
        (poison_id, f"{unique_name}:user.created")
    ]
    expected = "entry has no" if kind == "no-envelope" else "contract:"
    assert dead[0].reason.startswith(expected)
    assert pending == 0


@pytest.mark.django_db(transaction=True)
def test_failing_handler_is_retried_then_dead_lettered_after_max_deliveries(
    redis_server, unique_name
):
    """Three deliveries (XCLAIM after each backoff), then the dead stream; nothing pending."""
    calls = []
    registry = HandlerRegistry()

    @registry.handler("inventory.reserved", name="it.always_fails")
    def always_fails(envelope):
        calls.append(envelope.event_id)
        raise RetryableHandlerError("warehouse API down")

    with configured_bus("redis", redis_server.url, unique_name) as bus:
        bus.declare(["inventory.reserved"])
        sent = sample_envelope("inventory.reserved")
        bus.publish(sent)
        assert bus.consume(registry=registry, max_messages=1, idle_timeout=10) == 1
        dead = bus.dead_letter_box().read()
        pending = bus.client.xpending(bus.stream("inventory.reserved"), unique_name)["pending"]
    assert calls == [sent.event_id] * 3
    assert [(json.loads(d.body)["event_id"], d.headers["deliveries"]) for d in dead] == [
        (sent.event_id, "3")
    ]
    assert "warehouse API down" in dead[0].reason
    assert pending == 0


@pytest.mark.django_db(transaction=True)
def test_pubsub_loses_an_event_published_while_the_subscriber_is_down_streams_keep_it(
    redis_server, unique_name
):
    """The same event published with no consumer running: pub/sub drops it, Streams deliver it."""
    with configured_bus("redis_pubsub", redis_server.url, unique_name) as pubsub:
        assert isinstance(pubsub, RedisPubSubBus)
        registry, via_pubsub = recording_registry("user.updated")
        missed = sample_envelope("user.updated")
        pubsub.publish(missed)  # nobody subscribed right now
        ready = threading.Event()
        later = sample_envelope("user.updated")
        listener = threading.Thread(
            target=pubsub.consume,
            kwargs={"registry": registry, "max_messages": 1, "idle_timeout": 10, "ready": ready},
        )
        listener.start()
        assert ready.wait(10)
        pubsub.publish(later)
        listener.join(15)
    with configured_bus("redis", redis_server.url, unique_name) as streams:
        assert isinstance(streams, RedisStreamsBus)
        registry, via_streams = recording_registry("user.updated")
        streams.declare(["user.updated"])
        kept = sample_envelope("user.updated")
        streams.publish(kept)  # nobody consuming right now either
        streams.consume(registry=registry, max_messages=1, idle_timeout=10)
    assert via_pubsub == [later]
    assert via_streams == [kept]


@pytest.mark.django_db(transaction=True)
def test_every_event_type_round_trips_through_redis_pubsub_while_subscribed(
    redis_server, unique_name
):
    """With the subscriber listening, pub/sub delivers each event type of the contract."""
    with configured_bus("redis_pubsub", redis_server.url, unique_name) as bus:
        registry, received = recording_registry(*EVENT_TYPES)
        ready = threading.Event()
        listener = threading.Thread(
            target=bus.consume,
            kwargs={
                "registry": registry,
                "max_messages": len(EVENT_TYPES),
                "idle_timeout": 10,
                "ready": ready,
            },
        )
        listener.start()
        assert ready.wait(10)
        sent = [sample_envelope(event_type) for event_type in EVENT_TYPES]
        for envelope in sent:
            bus.publish(envelope)
        listener.join(20)
    assert sorted(received, key=lambda e: e.event_type) == sorted(sent, key=lambda e: e.event_type)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sigkilled_consumer_entries_are_reclaimed_and_applied_once(redis_server, unique_name):
    """A consumer killed mid-stream leaves entries pending; XAUTOCLAIM hands them on, none twice."""
    total = 1500
    with configured_bus("redis", redis_server.url, unique_name, MAX_DELIVERIES=5) as bus:
        bus.declare(["order.created"])
        for i in range(total):
            bus.publish(order_event(i))
        first = start_consumer("redis", redis_server.url, unique_name, "order.created")
        try:
            stream = bus.stream("order.created")

            def frozen_mid_stream() -> bool:
                # Enough applied, and, with the consumer stopped (SIGSTOP) so it cannot ack in
                # between, entries read but not acknowledged; else it runs on and we look again.
                if first.poll() is not None:
                    return True
                if applied_counts()[0] < total // 5:
                    return False
                first.send_signal(signal.SIGSTOP)
                if bus.client.xpending(stream, unique_name)["pending"] > 0:
                    return True
                first.send_signal(signal.SIGCONT)
                return False

            wait_until(
                frozen_mid_stream, timeout=60, interval=0.05, what="the first consumer mid-stream"
            )
        finally:
            first_output = stop_process(first, signal.SIGKILL)
        assert first.returncode == -signal.SIGKILL, first_output[-3000:]
        left_pending = bus.client.xpending(stream, unique_name)["pending"]
        applied_before = applied_counts()[0]
        # this process takes over, reclaiming entries idle for more than 1 s
        done = bus.consume(registry=helper_registry, idle_timeout=5)
        pending_after = bus.client.xpending(stream, unique_name)["pending"]
    assert left_pending >= 1  # the killed consumer had read entries it never acknowledged
    assert done >= total - applied_before
    assert applied_counts() == (total, total, 0)
    assert pending_after == 0


@pytest.mark.django_db(transaction=True)
def test_entry_that_keeps_killing_its_consumers_is_dead_lettered_without_running_again(
    redis_server, unique_name
):
    """Past MAX_DELIVERIES deliveries (consumers that died holding it), a reclaimed entry goes
    to the dead stream untouched: the Redis counterpart of RabbitMQ's x-delivery-limit."""
    with configured_bus("redis", redis_server.url, unique_name, REDIS_CLAIM_IDLE_MS=200) as bus:
        registry, received = recording_registry("user.created")
        bus.declare(["user.created"])
        entry_id = bus.publish_raw(
            "user.created", {"envelope": sample_envelope("user.created").to_bytes()}
        )
        stream = bus.stream("user.created")
        bus.client.xreadgroup(unique_name, "crashed-1", {stream: ">"}, count=1)
        for n in range(2, 4):  # two more consumers took it over and died too
            bus.client.xclaim(stream, unique_name, f"crashed-{n}", 0, [entry_id])
        assert bus.consume(registry=registry, max_messages=1, idle_timeout=10) == 1
        dead = bus.dead_letter_box().read()
    assert received == []
    assert [(d.headers["entry_id"], d.headers["deliveries"]) for d in dead] == [(entry_id, "4")]
    assert dead[0].reason.startswith("delivery limit")


@pytest.mark.django_db(transaction=True)
def test_sigterm_finishes_the_entry_in_hand_acks_it_and_exits(redis_server, unique_name):
    """After SIGTERM, exit code 0 and exactly the applied entries are acknowledged."""
    with configured_bus("redis", redis_server.url, unique_name, MAX_DELIVERIES=5) as bus:
        bus.declare(["order.created"])
        for i in range(8):
            bus.publish(order_event(i, handler_sleep=0.5))
        consumer = start_consumer("redis", redis_server.url, unique_name, "order.created")
        try:
            wait_until(lambda: applied_counts()[0] >= 1, timeout=60, what="a first event applied")
        finally:
            output = stop_process(consumer, signal.SIGTERM)
        (group,) = bus.client.xinfo_groups(bus.stream("order.created"))
    assert consumer.returncode == 0, output[-2000:]
    applied = applied_counts()[0]
    acknowledged = group["entries-read"] - group["pending"]
    assert 1 <= applied < 8
    assert acknowledged == applied


@pytest.mark.django_db(transaction=True)
def test_an_entry_read_but_not_acknowledged_survives_a_redis_restart(redis_server, unique_name):
    """With AOF on, a restart keeps the stream, its group and the pending entry: it is handled."""
    if redis_server.controller is None:
        pytest.skip("Redis comes from REDIS_URL: we don't own it, so we can't restart it")
    with configured_bus("redis", redis_server.url, unique_name, REDIS_CLAIM_IDLE_MS=200) as bus:
        registry, received = recording_registry("user.created")
        bus.declare(["user.created"])
        sent = sample_envelope("user.created")
        bus.publish(sent)
        # a consumer read it and died before XACK; then Redis restarts
        bus.client.xreadgroup(unique_name, "crashed-1", {bus.stream("user.created"): ">"}, count=1)
        redis_server.controller.restart()
        settled = bus.consume(registry=registry, max_messages=1, idle_timeout=10)
    assert (settled, received) == (1, [sent])


def _event_bus_ids(messages: list[CheckMessage]) -> list[str]:
    ids = [m.id or "" for m in messages]
    return sorted(i for i in ids if re.fullmatch(r"interlink\.[EW]0[45]\d", i))


def _aof_rewriting(client: redis.Redis) -> bool:
    info = client.info("persistence")
    return bool(info["aof_rewrite_in_progress"] or info["aof_rewrite_scheduled"])


def test_deploy_check_warns_when_redis_would_lose_the_streams_on_a_restart(
    redis_server, unique_name
):
    """`check --deploy` asks Redis: W041 with appendonly no, nothing with yes; `check` asks not."""
    if redis_server.controller is None:
        pytest.skip("Redis comes from REDIS_URL: we don't own it, so we don't reconfigure it")
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    before = str(client.config_get("appendonly")["appendonly"])
    found = {}
    try:
        with configured_bus("redis", redis_server.url, unique_name):
            for appendonly in ("no", "yes"):
                client.config_set("appendonly", appendonly)
                found[appendonly] = _event_bus_ids(run_checks(include_deployment_checks=True))
            client.config_set("appendonly", "no")
            found["check without --deploy"] = _event_bus_ids(run_checks())
    finally:
        client.config_set("appendonly", before)
        # Redis ignores a SIGTERM while it writes the initial AOF: let the next stop find it done
        wait_until(
            lambda: not _aof_rewriting(client), timeout=30, what="Redis to finish its AOF rewrite"
        )
        client.close()
    assert found == {"no": ["interlink.W041"], "yes": [], "check without --deploy": []}


@pytest.mark.django_db(transaction=True)
def test_a_batch_is_published_in_one_pipeline_and_each_refusal_is_its_own(
    redis_server, unique_name
):
    """publish_results sends a batch's XADDs at once: the events land in order, the one the
    contract refuses is not sent, and a Redis that refuses writes (OOM) refuses each event
    with its reason, which publish_many raises."""
    good = [sample_envelope("user.created") for _ in range(3)]
    broken = sample_envelope("user.created")
    broken.data.pop("email")
    with configured_bus("redis", redis_server.url, unique_name) as bus:
        before = bus.client.info("commandstats").get("cmdstat_xadd", {}).get("calls", 0)
        outcomes, unavailable = bus.publish_results([good[0], broken, good[1], good[2]])
        calls = bus.client.info("commandstats")["cmdstat_xadd"]["calls"] - before
        stream = bus.stream("user.created")
        landed = [text(f[b"event_id"]) for _, f in bus.client.xrange(stream)]
        limit = bus.client.config_get("maxmemory")["maxmemory"]
        bus.client.config_set("maxmemory", 1)
        try:
            refused, _ = bus.publish_results(good[:2])
            with pytest.raises(PublishError, match="maxmemory"):
                bus.publish_many(good[:1])
        finally:
            bus.client.config_set("maxmemory", limit)
    assert unavailable is None
    assert outcomes[0] is None and outcomes[2:] == [None, None]
    assert outcomes[1] is not None and "email" in outcomes[1]
    assert calls == 3
    assert landed == [e.event_id for e in good]
    assert len(refused) == 2 and all(o is not None and "maxmemory" in o for o in refused)
