"""Redis Streams retention on a real Redis: a stream is trimmed up to what its slowest group
still needs, the dead-letter stream is bounded, and a Redis out of memory recovers."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
import redis
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from django_interlink.events.outbox import outbox_enqueue, outbox_relay
from django_interlink.events.retention import StreamTrim, bus_trim
from django_interlink.models import OutboxEvent, OutboxStatus
from integration_tests.event_helpers import configured_bus, stop_process
from integration_tests.helpers import django_subprocess_env, manage_py_argv
from integration_tests.servers import redis as redis_servers
from mock_services.waiting import wait_until
from shop.event_samples import sample_envelope

EVENT = "user.created"


def trim(bus, *, dead_letter_maxlen: int) -> StreamTrim:
    trimmed = bus_trim(bus, dead_letter_maxlen=dead_letter_maxlen)
    assert trimmed is not None  # a Redis Streams bus
    return trimmed


def publish(bus, count: int) -> None:
    for _ in range(count):
        bus.publish(sample_envelope(EVENT))


def read_and_ack(bus, group: str, count: int, *, ack: bool = True) -> list[str]:
    stream = bus.stream(EVENT)
    reply = bus.client.xreadgroup(group, "c1", {stream: ">"}, count=count)
    ids = [entry_id.decode() for entry_id, _ in reply[0][1]] if reply else []
    if ack and ids:
        bus.client.xack(stream, group, *ids)
    return ids


@pytest.mark.django_db(transaction=True)
def test_a_slow_group_loses_nothing_while_the_stream_is_trimmed(redis_server, unique_name):
    """A fast group acks everything; a slow one has read nothing, a third holds entries pending:
    the trim drops nothing they still need, then bounds the stream once they catch up."""
    with configured_bus("redis", redis_server.url, unique_name) as bus:
        stream = bus.stream(EVENT)
        bus.declare([EVENT], group="fast")
        bus.declare([EVENT], group="slow")
        bus.declare([EVENT], group="pending")
        publish(bus, 1000)
        all_ids = [e.decode() for e, _ in bus.client.xrange(stream)]
        read_and_ack(bus, "fast", 1000)
        held = read_and_ack(bus, "pending", 300, ack=False)  # read, never acknowledged
        assert trim(bus, dead_letter_maxlen=100).entries == 0  # "slow" needs the first
        assert bus.client.xlen(stream) == 1000

        read_and_ack(bus, "slow", 1000)
        trim(bus, dead_letter_maxlen=100)
        kept = [e.decode() for e, _ in bus.client.xrange(stream)]
        assert kept[: len(all_ids)] == all_ids[-len(kept) :]  # only the oldest went
        assert set(held) <= set(kept)  # every pending entry is still there
        claimed = bus.client.xclaim(stream, "pending", "c2", 0, held)
        assert [e.decode() for e, fields in claimed if fields] == held

        # once every group has acknowledged, at most one Redis node (100 entries) remains
        bus.client.xack(stream, "pending", *held)
        read_and_ack(bus, "pending", 1000)
        for _ in range(5):
            publish(bus, 200)
            for group in ("fast", "slow", "pending"):
                read_and_ack(bus, group, 1000)
            trim(bus, dead_letter_maxlen=100)
            assert bus.client.xlen(stream) <= 200


@pytest.mark.django_db(transaction=True)
def test_a_group_that_has_read_nothing_keeps_the_whole_stream(redis_server, unique_name):
    with configured_bus("redis", redis_server.url, unique_name) as bus:
        bus.declare([EVENT], group="fast")
        bus.declare([EVENT], group="idle")
        publish(bus, 500)
        read_and_ack(bus, "fast", 500)
        assert trim(bus, dead_letter_maxlen=100).entries == 0
        assert bus.client.xlen(bus.stream(EVENT)) == 500
        assert len(read_and_ack(bus, "idle", 1000)) == 500


@pytest.mark.django_db(transaction=True)
def test_the_dead_letter_stream_is_bounded(redis_server, unique_name):
    with configured_bus("redis", redis_server.url, unique_name) as bus:
        dead = bus.dead_stream(unique_name)
        for i in range(1000):
            bus.client.xadd(dead, {"envelope": b"{}", "reason": f"r{i}"})
        trimmed = trim(bus, dead_letter_maxlen=300)
        assert trimmed.dead_letters >= 600
        assert 300 <= bus.client.xlen(dead) <= 400
        newest = bus.client.xrevrange(dead, count=1)[0][1][b"reason"]
        assert newest == b"r999"


@pytest.fixture
def small_redis():
    """A Redis of its own, whose maxmemory the test sets (noeviction: XADD fails with OOM)."""
    provisioned = redis_servers.as_process()
    try:
        yield provisioned.endpoint
    finally:
        provisioned.close()


@pytest.mark.django_db(transaction=True)
def test_out_of_memory_keeps_rows_with_the_reason_and_publish_again_recovers(
    small_redis, unique_name
):
    """Full Redis: the relay keeps the row FAILED with Redis's reason; trimming frees room and
    "publish again" (attempts reset) sends it."""
    client = redis.Redis.from_url(small_redis.url)
    client.config_set("maxmemory-policy", "noeviction")
    with configured_bus("redis", small_redis.url, unique_name, OUTBOX_MAX_ATTEMPTS=1) as bus:
        bus.declare([EVENT], group="g")
        stream = bus.stream(EVENT)
        for _ in range(300):  # 3 MB of events the group has not consumed yet
            client.xadd(stream, {"envelope": b"x" * 10_000})
        # Full: the memory in use is over the limit, so Redis refuses every write.
        used = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory", used - 64 * 1024)
        envelope = outbox_enqueue(EVENT, sample_envelope(EVENT).data)
        result = outbox_relay(bus=bus)
        row = OutboxEvent.objects.get(event_id=envelope.event_id)
        assert (result.refused, row.status) == (1, OutboxStatus.FAILED)
        assert "maxmemory" in row.last_error and stream in row.last_error

        read_and_ack(bus, "g", 100_000)  # the group consumed the filler: the trim may drop it
        assert trim(bus, dead_letter_maxlen=100).entries > 0

        admin = get_user_model().objects.create_superuser("admin", "a@b.example", "pw")
        web = Client()
        web.force_login(admin)
        web.post(
            "/admin/interlink/outboxevent/",
            {"action": "publish_again", "_selected_action": [row.pk]},
        )
        assert outbox_relay(bus=bus).sent == 1
        row.refresh_from_db()
        assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)
    client.close()


@pytest.mark.django_db(transaction=True)
def test_the_relay_process_purges_and_trims_as_it_starts(redis_server, unique_name):
    """`manage.py relay_outbox` (the loop) purges old sent rows and trims the streams its
    groups are done with, with no purge command run: then it is stopped by SIGTERM."""
    with configured_bus("redis", redis_server.url, unique_name) as bus:
        bus.declare([EVENT], group="g")
        publish(bus, 500)
        read_and_ack(bus, "g", 500)
        envelope = outbox_enqueue(EVENT, sample_envelope(EVENT).data)
        OutboxEvent.objects.filter(event_id=envelope.event_id).update(
            status=OutboxStatus.SENT, sent_at=timezone.now() - timedelta(days=30)
        )
        env = django_subprocess_env(EVENT_BUS_BACKEND="redis", REDIS_URL=redis_server.url)
        relay = subprocess.Popen(
            manage_py_argv("relay_outbox", "--stream-prefix", unique_name, "--interval", "0.2"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(
                lambda: (
                    not OutboxEvent.objects.exists() and bus.client.xlen(bus.stream(EVENT)) < 500
                ),
                timeout=60,
                what="the relay's first purge",
            )
        finally:
            output = stop_process(relay)
    assert relay.returncode == 0, output
    assert "retention purge: outbox_sent 1" in output
