"""Redis with Sentinel: what asynchronous replication loses when the primary dies, and WAIT.

The real outbox -> relay -> Streams, with a consumer, on a primary, a replica and three
sentinels. While the relay writes, the replica is held back (SIGSTOP) and other writes fill the
replication link's socket buffers, so every XADD from then on is only in the primary's memory
(on one host the stream otherwise lands before a SIGKILL does). Then the primary is SIGKILLed,
the replica resumed and promoted. Counted: events the relay marked sent that the new primary
does not have. Without WAIT some always are; with REDIS_WAIT_REPLICAS = 1 none, since no batch
was confirmed by the stopped replica and the relay sent those rows again after the failover.
Both runs: the relay and the consumer carry on through the failover without a restart.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from django_interlink.conf import _merge, ms_settings
from django_interlink.events.backends import build_bus
from django_interlink.events.checks import check_redis_persistence
from django_interlink.events.envelope import Envelope
from django_interlink.events.handlers import HandlerRegistry
from django_interlink.events.outbox import outbox_enqueue, outbox_relay_loop
from django_interlink.health import check_broker, check_redis
from django_interlink.models import OutboxEvent, OutboxStatus
from integration_tests.event_helpers import configured_bus, order_event
from integration_tests.servers.sentinel_cluster import Node, SentinelCluster
from mock_services.waiting import wait_until

REPORTS = Path(__file__).resolve().parent.parent / "reports" / "cluster"
EVENTS = 4000
# relayed before the replica is stopped, and XADDed after its link is backed up
BEFORE_STOP = 1000
UNREPLICATED = 500
# user-space replication backlog (bytes) past which an XADD cannot reach the replica
BACKLOG = 1 << 20
FILLER = b"x" * BACKLOG
WAIT_TIMEOUT_MS = 300


def events_settings(**event_bus: Any) -> Any:
    from django.test import override_settings

    return override_settings(INTERLINK=_merge(ms_settings.data, {"EVENT_BUS": event_bus}))


def sent_count() -> int:
    return OutboxEvent.objects.filter(status=OutboxStatus.SENT).count()


def replication_backlog(primary: Node) -> int:
    """Bytes the primary holds in its own memory for its replicas (not in a socket buffer)."""
    clients = primary.client().client_list(_type="replica")
    return sum(int(c["omem"]) for c in clients)


def back_up_replication(primary: Node, prefix: str) -> int:
    """Fill the stopped replica's socket buffers with other writes, until the primary keeps a
    backlog of its own: from then on, nothing written reaches the replica before it reads."""
    client = primary.client()
    for chunk in range(48):
        if replication_backlog(primary) > BACKLOG:
            return chunk
        client.set(f"{prefix}:filler:{chunk}", FILLER)
    raise AssertionError("the replication link never backed up")


class Worker(threading.Thread):
    """A relay or consumer thread that keeps its exception for the test and closes its
    database connection."""

    def __init__(self, target: Callable[[], Any], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.run_target = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.run_target()
        except BaseException as exc:
            self.error = exc
        finally:
            connection.close()


def lose_the_primary(cluster: SentinelCluster, name: str, *, wait_replicas: int) -> dict[str, Any]:
    """The scenario above; returns its figures."""
    cluster.restore()
    stream = f"{name}:order.created"
    events = [order_event(index) for index in range(EVENTS)]
    for event in events:
        outbox_enqueue(event.event_type, event.data, event_id=event.event_id)
    received: list[str] = []
    registry = HandlerRegistry()

    def record(envelope: Envelope) -> None:
        received.append(envelope.event_id)

    registry.add("order.created", record, name=f"it.sentinel.{name}")
    stop = threading.Event()
    settings = {
        "REDIS_SENTINELS": cluster.addresses,
        "REDIS_SENTINEL_SERVICE": cluster.service,
        "REDIS_WAIT_REPLICAS": wait_replicas,
        "REDIS_WAIT_TIMEOUT_MS": WAIT_TIMEOUT_MS,
    }
    with configured_bus("redis", "", name, **settings) as bus:
        bus.declare(["order.created"])
        relay_bus, consumer_bus = build_bus(), build_bus()
        relay = Worker(
            lambda: outbox_relay_loop(bus=relay_bus, stop=stop, interval=0.05, batch_size=50),
            "relay",
        )
        consumer = Worker(lambda: consumer_bus.consume(registry=registry, stop=stop), "consumer")
        relay.start()
        consumer.start()

        def wait(predicate: Callable[[], object], what: str, timeout: float = 60) -> None:
            def done() -> object:
                for worker in (relay, consumer):
                    if worker.error is not None:
                        raise AssertionError(f"the {worker.name} died") from worker.error
                return predicate()

            wait_until(done, timeout=timeout, interval=0.05, what=what)

        try:
            wait(lambda: sent_count() >= BEFORE_STOP, "the first events")
            primary, replica = cluster.primary(), cluster.replica()
            replica.pause()
            filler_chunks = back_up_replication(primary, name)
            marked_before = sent_count()
            xadds_before = primary.client().xlen(stream)
            wait(
                lambda: (
                    primary.client().xlen(stream) >= xadds_before + UNREPLICATED
                    and (wait_replicas > 0 or sent_count() >= marked_before + UNREPLICATED)
                ),
                "XADDs only the primary has",
                timeout=30,
            )
            last_id = primary.client().xrevrange(stream, count=1)[0][0]
            entries_at_kill = primary.client().xlen(stream)
            marked_at_kill = sent_count()
            killed = time.monotonic()
            primary.kill()
            replica.resume()
            new_primary = cluster.wait_for_failover(primary)
            failover = time.monotonic() - killed
            cluster.restore()  # the old primary back, as a replica: WAIT 1 can be met again
            wait(
                lambda: not OutboxEvent.objects.filter(status=OutboxStatus.PENDING).exists(),
                "every row relayed",
                timeout=120,
            )
            client = new_primary.client()
            entries = client.xrange(stream)
            in_stream = {fields[b"event_id"].decode() for _, fields in entries}
            wait(lambda: in_stream <= set(received), "every entry consumed", timeout=120)
        finally:
            stop.set()
            relay.join(30)
            consumer.join(30)
            relay_bus.close()
            consumer_bus.close()
    assert relay.error is None and consumer.error is None
    sent = {
        str(e)
        for e in OutboxEvent.objects.filter(status=OutboxStatus.SENT).values_list(
            "event_id", flat=True
        )
    }
    kept = len(client.xrange(stream, max=last_id))
    figures = {
        "events": EVENTS,
        "wait_replicas": wait_replicas,
        "wait_timeout_ms": WAIT_TIMEOUT_MS,
        "filler_mb_to_back_up_the_link": filler_chunks,
        "marked_sent_while_replica_stopped": marked_at_kill - marked_before,
        "xadds_acknowledged_only_by_the_primary": entries_at_kill - xadds_before,
        "entries_lost_by_redis": entries_at_kill - kept,
        "marked_sent": len(sent),
        "marked_sent_and_lost": len(sent - in_stream),
        "duplicate_entries": len(entries) - len(in_stream),
        "consumed": len(set(received)),
        "failover_seconds": round(failover, 2),
    }
    REPORTS.mkdir(parents=True, exist_ok=True)
    label = "with_wait" if wait_replicas else "without_wait"
    (REPORTS / f"redis_loss_{label}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nRedis failover, {label}: {json.dumps(figures)}")
    return figures


@pytest.mark.slow
@pytest.mark.timeout(600)  # about 100-160 s on two shared cores; its waits have their own bounds
@pytest.mark.django_db(transaction=True)
def test_without_wait_the_relay_marks_sent_events_a_failover_loses(redis_sentinel, unique_name):
    """Asynchronous replication: events the primary acknowledged, and the relay marked sent,
    are gone once the replica that never got them is promoted."""
    cluster = _controllable(redis_sentinel)
    figures = lose_the_primary(cluster, unique_name, wait_replicas=0)
    assert figures["marked_sent_and_lost"] > 0
    assert figures["marked_sent"] == EVENTS
    # the consumer carried on: it has every event the new primary holds
    assert figures["consumed"] == EVENTS - figures["marked_sent_and_lost"]


@pytest.mark.slow
@pytest.mark.timeout(600)  # about 100-160 s on two shared cores; its waits have their own bounds
@pytest.mark.django_db(transaction=True)
def test_with_wait_for_one_replica_the_same_failover_loses_no_event_marked_sent(
    redis_sentinel, unique_name
):
    """REDIS_WAIT_REPLICAS = 1: the primary lost as many acknowledged XADDs, yet every event
    the relay marked sent is on the new primary, and the consumer had each one."""
    cluster = _controllable(redis_sentinel)
    figures = lose_the_primary(cluster, unique_name, wait_replicas=1)
    assert figures["entries_lost_by_redis"] > 0
    assert figures["marked_sent_while_replica_stopped"] == 0
    assert figures["marked_sent_and_lost"] == 0
    assert figures["marked_sent"] == EVENTS
    assert figures["consumed"] == EVENTS


def _controllable(endpoint: Any) -> SentinelCluster:
    cluster: SentinelCluster = endpoint.cluster
    if not cluster.controllable:
        pytest.skip("the Sentinel cluster of REDIS_SENTINELS is not ours to kill")
    return cluster


def test_health_and_the_deploy_check_ask_the_primary_the_sentinels_name(redis_sentinel):
    """/health/ready/'s broker and Redis components PING the Sentinel service's primary, and
    `check --deploy` asks that primary for its persistence (these nodes run without AOF: W041)."""
    settings = {
        "BACKEND": "redis",
        "REDIS_URL": "",
        "REDIS_SENTINELS": redis_sentinel.url,
        "REDIS_SENTINEL_SERVICE": redis_sentinel.cluster.service,
    }
    with events_settings(**settings):
        broker, redis_health = check_broker(), check_redis()
        warnings = [message.id for message in check_redis_persistence()]
    assert (broker.status, broker.detail.split(" ")[0]) == ("up", "redis")
    assert redis_health.status == "up"
    assert warnings == ["interlink.W041"]
    with events_settings(**{**settings, "REDIS_SENTINEL_SERVICE": "nobody"}):
        assert check_broker().status == "down"
