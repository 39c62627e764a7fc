"""Events through a three-node RabbitMQ cluster while one node is SIGKILLed: the scenario of the
cluster tests (test_events_rabbitmq_cluster.py), reusable by other cluster tests.

Outbox rows are written by one thread as a service would (in transactions of 20), relayed by the
real relay loop (`outbox_relay_loop`) in another, and consumed by `manage.py consume_events` in
its own process with its inbox. The roles are placed on three different nodes, so that a kill
hits exactly one of them: the quorum queue's leader (where the queue was declared), the
consumer's node, and the relay's node. The failover times (from the kill to the first confirmed
publish, and to the first handled message, afterwards) are printed and written to
reports/cluster/<scenario>.json.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from django_interlink.conf import DEFAULTS
from django_interlink.events.backends import bus_settings
from django_interlink.events.outbox import outbox_enqueue, outbox_pending_count, outbox_relay_loop
from django_interlink.events.rabbitmq import RabbitMQBus
from integration_tests.event_helpers import (
    applied_counts,
    configured_bus,
    order_event,
    start_consumer,
    stop_process,
)
from integration_tests.helpers import REPO_DIR
from integration_tests.servers.rabbitmq_cluster import ClusterNode, RabbitCluster
from mock_services.waiting import WaitTimeout, wait_until

REPORTS = REPO_DIR / "reports" / "cluster"
EVENT_TYPE = "order.created"
# The consumer sub-process runs with the project's defaults; queues must be declared alike.
SUBPROCESS_BUS = {key: DEFAULTS["EVENT_BUS"][key] for key in ("MAX_DELIVERIES", "RETRY_BACKOFF")}
ROLES = ("leader", "consumer", "relay")


@dataclass
class Flow:
    """What the threads of one run share; times are time.monotonic()."""

    total: int
    enqueued: int = 0
    confirms: list[float] = field(default_factory=list)  # each relay batch with a confirm
    applied: list[tuple[float, int]] = field(default_factory=list)  # (when, applied so far)
    errors: list[BaseException] = field(default_factory=list)
    killed: threading.Event = field(default_factory=threading.Event)
    killed_at: float | None = None
    enqueued_at_kill: int = 0
    stop: threading.Event = field(default_factory=threading.Event)


def write_outbox(flow: Flow) -> None:
    """Enqueue `total` order events, 20 a transaction, paced so the kill falls mid-stream;
    the last third only once the node is dead, so publishing goes on after the kill."""
    try:
        for start in range(0, flow.total, 20):
            if start >= flow.total * 2 // 3:
                flow.killed.wait(timeout=300)
            with transaction.atomic():
                for index in range(start, min(flow.total, start + 20)):
                    outbox_enqueue(EVENT_TYPE, order_event(index).data)
            flow.enqueued = min(flow.total, start + 20)
            time.sleep(0.02)
    except BaseException as exc:  # reported by the test; the thread must not die silently
        flow.errors.append(exc)
    finally:
        connection.close()


def relay(flow: Flow, bus: RabbitMQBus) -> None:
    """The real relay loop, its bus's publish_results timed (when a batch was confirmed)."""
    publish_results = bus.publish_results

    def timed(envelopes: Any) -> Any:
        outcomes, unavailable = publish_results(envelopes)
        if any(outcome is None for outcome in outcomes):
            flow.confirms.append(time.monotonic())
        return outcomes, unavailable

    bus.publish_results = timed  # type: ignore[method-assign]
    try:
        outbox_relay_loop(bus=bus, stop=flow.stop, interval=0.02, batch_size=50)
    except BaseException as exc:
        flow.errors.append(exc)
    finally:
        connection.close()


def watch_applied(flow: Flow) -> None:
    """Sample how many events were applied, every 20 ms (the first handled after the kill)."""
    try:
        while not flow.stop.is_set():
            flow.applied.append((time.monotonic(), applied_counts()[0]))
            flow.stop.wait(0.02)
    finally:
        connection.close()


def _node_of(cluster: RabbitCluster, connection_name: str) -> ClusterNode | None:
    try:
        return cluster.connection_node(connection_name)
    except LookupError:
        return None


def _consumer_node(
    cluster: RabbitCluster, name: str, consumer: subprocess.Popen[bytes]
) -> ClusterNode:
    found: list[ClusterNode] = []

    def connected() -> bool:
        if consumer.poll() is not None:
            raise AssertionError(stop_process(consumer)[-3000:])
        node = _node_of(cluster, f"interlink-events-{name}")
        found[:] = [node] if node else []
        return node is not None

    wait_until(connected, timeout=60, interval=0.2, what="the consumer's connection")
    return found[0]


def place_consumer(
    cluster: RabbitCluster, name: str, avoid: ClusterNode
) -> tuple[subprocess.Popen[bytes], ClusterNode]:
    """A consumer process connected (through the whole cluster's URL) to a node other than
    `avoid`: one that landed there is replaced."""
    for _ in range(8):
        consumer = start_consumer("rabbitmq", cluster.url, name, EVENT_TYPE)
        node = _consumer_node(cluster, name, consumer)
        if node is not avoid:
            return consumer, node
        stop_process(consumer)
    raise AssertionError(f"the consumer kept landing on {avoid.name}")


def place_relay(
    cluster: RabbitCluster, bus: RabbitMQBus, name: str, avoid: set[str]
) -> ClusterNode:
    """Open the relay bus's publisher until it is connected to a node outside `avoid`."""
    publisher = bus._publisher()
    for _ in range(30):
        publisher.open()
        node = _node_of(cluster, f"interlink-publisher-{name}")
        if node is not None and node.name not in avoid:
            return node
    raise AssertionError(f"the relay kept landing on {sorted(avoid)}")


@contextmanager
def running(*threads: threading.Thread) -> Iterator[None]:
    for thread in threads:
        thread.start()
    yield


def first_after(times: list[float], moment: float) -> float | None:
    later = [t - moment for t in list(times) if t > moment]
    return round(min(later), 3) if later else None


def longest_stall(times: list[float], moment: float, window: float = 30.0) -> float | None:
    """The longest wait for progress from `moment` on (within `window` s): from the kill to the
    first progress, or between two progresses after it. A consumer works through what it had
    prefetched before it notices anything, so the first progress alone can hide the stall."""
    later = sorted(t for t in list(times) if moment < t <= moment + window)
    if not later:
        return None
    gaps = [b - a for a, b in zip([moment, *later], later, strict=False)]
    return round(max(gaps), 3)


def report(name: str, figures: dict[str, Any]) -> None:
    """Print the figures (pytest -s) and write them to reports/cluster/<name>.json."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / f"{name}.json"
    text = json.dumps(figures, indent=2)
    path.write_text(text + "\n")
    print(f"\n--- cluster failover: {name} ({path}) ---\n{text}")


def run_with_a_node_killed(
    cluster: RabbitCluster, name: str, victim: str, *, total: int = 5000
) -> dict[str, Any]:
    """The scenario: place the three roles on three nodes, start the flow, SIGKILL the node of
    `victim` (one of ROLES) once a third is enqueued and events are applied, and wait for every
    event. Returns the figures and what the assertions need."""
    assert victim in ROLES
    flow = Flow(total)
    leader = cluster.nodes[0]
    with configured_bus("rabbitmq", cluster.url, name, **SUBPROCESS_BUS) as bus:
        assert isinstance(bus, RabbitMQBus)
        declaring = RabbitMQBus.from_config(bus_settings(RABBITMQ_URL=leader.url))
        declaring.declare([EVENT_TYPE])  # the quorum queue's leader is where it is declared
        queue = declaring.topology.queue_name(name, EVENT_TYPE)
        assert cluster.queue_leader(queue) is leader
        consumer, consumer_node = place_consumer(cluster, name, avoid=leader)
        relay_node = place_relay(cluster, bus, name, avoid={leader.name, consumer_node.name})
        nodes = {"leader": leader, "consumer": consumer_node, "relay": relay_node}
        threads = [
            threading.Thread(target=write_outbox, args=(flow,), name="writer"),
            threading.Thread(target=relay, args=(flow, bus), name="relay"),
            threading.Thread(target=watch_applied, args=(flow,), name="watch"),
        ]
        output = ""
        relay_alive = consumer_alive = False
        try:
            with running(*threads):
                wait_until(
                    lambda: flow.enqueued >= total // 3 and applied_counts()[0] > 0,
                    timeout=120,
                    what="a third enqueued and events applied",
                )
                flow.enqueued_at_kill = flow.enqueued
                flow.killed_at = time.monotonic()
                nodes[victim].kill()
                flow.killed.set()
                wait_until(
                    lambda: flow.enqueued == total or bool(flow.errors),
                    timeout=300,
                    what="every event enqueued",
                )
                # on a timeout the caller's assertions fail with the counts, not a bare timeout
                with contextlib.suppress(WaitTimeout):
                    wait_until(
                        lambda: (
                            (outbox_pending_count() == 0 and applied_counts()[1] >= total)
                            or bool(flow.errors)
                            or consumer.poll() is not None
                        ),
                        timeout=600,
                        interval=0.5,
                        what="every event relayed and applied",
                    )
                relay_alive = threads[1].is_alive()
                consumer_alive = consumer.poll() is None
        finally:
            flow.killed.set()
            flow.stop.set()
            for thread in threads:
                thread.join(timeout=60)
            output = stop_process(consumer)
    killed_at = flow.killed_at or 0.0
    applied_after = [t for t, count in flow.applied if count > _applied_at(flow, killed_at)]
    # the samples at which the applied count went up: when the consumers made progress
    progress = [
        t
        for (t, count), (_, before) in zip(flow.applied[1:], flow.applied, strict=False)
        if count > before
    ]
    figures = {
        "scenario": victim,
        "events": total,
        "source": cluster.source,
        "killed_node": nodes[victim].name,
        "roles": {role: node.name for role, node in nodes.items()},
        "enqueued_at_kill": flow.enqueued_at_kill,
        "publish_failover_s": first_after(flow.confirms, killed_at),
        "handle_failover_s": first_after(applied_after, killed_at),
        "publish_longest_stall_s": longest_stall(flow.confirms, killed_at),
        "handle_longest_stall_s": longest_stall(progress, killed_at),
        "consumer_reconnected": "consumer lost" in output,
        "new_leader": cluster.queue_leader(queue).name,
    }
    report(f"kill-{victim}", figures)
    return {
        "figures": figures,
        "errors": flow.errors,
        "relay_alive": relay_alive,
        "consumer_alive": consumer_alive,
        "consumer_output": output,
        "queue": queue,
    }


def _applied_at(flow: Flow, moment: float) -> int:
    """How many were applied at `moment` (the last sample before it)."""
    before = [count for t, count in flow.applied if t <= moment]
    return before[-1] if before else 0
