"""What does a three-node RabbitMQ cluster cost our relay and our consumer, against one node,
and how long does a client take to fail over when its node is SIGKILLed?

Throughput (same machine, same run, rounds taken in turns; the same code on both sides):
  relay    outbox_relay() draining N outbox rows in batches of OUTBOX_BATCH_SIZE (the relay
           loop's call): RABBITMQ_URL naming the cluster's three nodes / one lone node
  consume  RabbitMQBus.consume, the same window and prefetch, the inbox and a no-op handler,
           draining N events: the cluster / one node
Both declare quorum queues: on the cluster each has a replica on every node, and the broker
confirms a publish (and settles an ack) once a majority holds it; on one node, once it does.
Failover (on the cluster, `--kills` times each): a publisher sends a batch of 10 every 20 ms
and a consumer drains the queue; the node the publisher is on is SIGKILLed: seconds to the
first publish confirmed after the kill; then the node the consumer is on: seconds to the first
message handled after it. Each killed node is restarted (it rejoins), and its replica of the
queue is online again, before the next kill: else the queue has one replica of three, no
majority, and the broker nacks every publish until one comes back.

    .venv/bin/python bench/bench_cluster.py [--events 3000] [--rounds 3] [--window 50] [--kills 3]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "django_app"), str(REPO)]

import pika  # noqa: E402

from bench.support import (  # noqa: E402
    Ratio,
    databases,
    report,
    setup_django,
    take_turns,
    truncate,
    unique_name,
)
from bench.support import write_results as write  # noqa: E402
from integration_tests.servers import provide  # noqa: E402
from integration_tests.servers.rabbitmq_cluster import ClusterNode, RabbitCluster  # noqa: E402
from integration_tests.servers.rabbitmq_cluster import provide as provide_cluster  # noqa: E402

EVENT_TYPE = "order.created"
HANDLER = "bench.cluster.noop"
FIGURES = {"cluster": "three-node cluster", "one_node": "one node"}
RATIOS = [Ratio("cluster / one node", "cluster", "one_node")]
KILL_TIMEOUT = 60.0
Moment = tuple[float, int | None]  # a failover that has not happened by then is reported as such


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=3000, help="events per run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--window", type=int, default=50, help="consume window (prefetch 2x)")
    parser.add_argument("--kills", type=int, default=3, help="kills of each kind")
    args = parser.parse_args()
    with ExitStack() as stack:
        cluster = provide_cluster()
        stack.callback(cluster.close)
        if not all(node.can_kill for node in cluster.nodes):
            raise SystemExit("RABBITMQ_URLS names a cluster that is not ours to kill")
        single = provide("rabbitmq")
        stack.callback(single.close)
        (db,) = databases(stack, ["tests"], unique_name("benchcluster"))
        setup_django("project.settings.base", db)
        logging.getLogger("django_interlink").setLevel(logging.ERROR)
        results: dict[str, Any] = {
            "servers": {"cluster": cluster.source, "one_node": single.endpoint.source},
            "database": db.label,
        }
        urls = {"cluster": cluster.url, "one_node": single.endpoint.url}
        results["relay"], results["consume"] = throughput(args, urls)
        results["failover"] = failover(args, cluster)
    write("cluster", results)


def _bus(url: str, exchange: str, **settings: Any) -> Any:
    from django_interlink.events.backends import bus_settings
    from django_interlink.events.rabbitmq import RabbitMQBus

    return RabbitMQBus.from_config(
        bus_settings(rabbitmq_url=url, rabbitmq_exchange=exchange, **settings)
    )


def throughput(args: argparse.Namespace, urls: dict[str, str]) -> tuple[Any, Any]:
    from django_interlink.conf import ms_settings
    from django_interlink.events.envelope import Envelope
    from django_interlink.events.handlers import HandlerRegistry
    from django_interlink.events.outbox import outbox_relay, outbox_row
    from django_interlink.models import InboxEvent, OutboxEvent, OutboxStatus
    from shop.event_samples import sample_data

    n, window = args.events, args.window
    batch = int(ms_settings.EVENT_BUS["OUTBOX_BATCH_SIZE"])
    registry = HandlerRegistry()
    registry.add(EVENT_TYPE, lambda envelope: None, name=HANDLER)
    name = unique_name("benchcl")

    buses, consumers, purges = {}, {}, {}
    for key, url in urls.items():
        buses[key] = _bus(url, name)
        consumers[key] = _bus(url, name, rabbitmq_prefetch=2 * window, consume_window=window)
        buses[key].declare([EVENT_TYPE], group=name)
        purges[key] = _purger(url, buses[key].topology.queue_name(name, EVENT_TYPE))

    def relay(key: str) -> Callable[[], float]:
        def run_it() -> float:
            purges[key]()
            truncate(OutboxEvent._meta.db_table)
            rows = [outbox_row(EVENT_TYPE, sample_data(EVENT_TYPE)) for _ in range(n)]
            OutboxEvent.objects.bulk_create(rows)
            buses[key].publish(Envelope.new(EVENT_TYPE, sample_data(EVENT_TYPE)))  # warm
            started = time.perf_counter()
            while outbox_relay(bus=buses[key]).sent:
                pass
            rate = n / (time.perf_counter() - started)
            sent = OutboxEvent.objects.filter(status=OutboxStatus.SENT).count()
            assert sent == n, f"{key}: {sent} of {n} rows sent"
            return rate

        return run_it

    def consume(key: str) -> Callable[[], float]:
        def run_it() -> float:
            purges[key]()
            events = [Envelope.new(EVENT_TYPE, sample_data(EVENT_TYPE)) for _ in range(n)]
            for i in range(0, n, batch):
                buses[key].publish_many(events[i : i + batch])
            truncate(InboxEvent._meta.db_table)
            started = time.perf_counter()
            settled = consumers[key].consume(
                registry=registry, group=name, max_messages=n, idle_timeout=10
            )
            rate = n / (time.perf_counter() - started)
            handled = InboxEvent.objects.filter(handler=HANDLER).count()
            assert settled == n == handled, f"{key}: settled {settled}, inbox {handled} of {n}"
            return rate

        return run_it

    title = f"RabbitMQ relay (outbox_relay, batches of {batch}; quorum queue), {n} rows"
    relay_runs = take_turns({key: relay(key) for key in urls}, args.rounds, title)
    relay_result = report(title, FIGURES, relay_runs, RATIOS, events=n, batch_size=batch)
    title = f"RabbitMQ consume (quorum queue, prefetch {2 * window}, window {window}, inbox)"
    consume_runs = take_turns({key: consume(key) for key in urls}, args.rounds, title)
    consume_result = report(title, FIGURES, consume_runs, RATIOS, events=n, window=window)
    for bus in [*buses.values(), *consumers.values()]:
        bus.close()
    return relay_result, consume_result


def _purger(url: str, queue: str) -> Callable[[], None]:
    """Empties `queue` through the first node `url` names (any node of a cluster will do)."""
    first = url.split(",", 1)[0]

    def purge() -> None:
        connection = pika.BlockingConnection(pika.URLParameters(first))
        try:
            connection.channel().queue_purge(queue)
        finally:
            connection.close()

    return purge


class ConsumerNode(logging.Handler):
    """The node the consumer says it consumes from (its "consuming ... from host:port" line)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.port: int | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.msg
        if isinstance(message, str) and message.startswith("consuming ") and record.args:
            self.port = int(str(record.args[1]).rsplit(":", 1)[1])  # type: ignore[index]


def failover(args: argparse.Namespace, cluster: RabbitCluster) -> dict[str, Any]:
    from django_interlink.events.envelope import Envelope
    from django_interlink.events.handlers import HandlerRegistry
    from shop.event_samples import sample_data

    name = unique_name("benchfo")
    publisher, consumer = _bus(cluster.url, name), _bus(cluster.url, name)
    publisher.declare([EVENT_TYPE], group=name)
    queue = publisher.topology.queue_name(name, EVENT_TYPE)
    # (time.time(), the port of the node it went through) of each batch confirmed, and of
    # each message handled: what the killed node itself confirmed or delivered before it died
    # does not count as having failed over
    confirmed: list[Moment] = []
    handled: list[Moment] = []
    errors: list[str] = []
    stop = threading.Event()
    registry = HandlerRegistry()
    watcher = ConsumerNode()
    registry.add(
        EVENT_TYPE, lambda envelope: handled.append((time.time(), watcher.port)), name=HANDLER
    )
    rabbit_log = logging.getLogger("django_interlink.events.rabbitmq")
    rabbit_log.addHandler(watcher)
    rabbit_log.setLevel(logging.INFO)

    def publish() -> None:
        while not stop.is_set():
            try:
                events = [Envelope.new(EVENT_TYPE, sample_data(EVENT_TYPE)) for _ in range(10)]
                publisher.publish_many(events)
                confirmed.append((time.time(), _publisher_port(publisher)))
            except Exception as exc:  # reported, and the loop goes on as a relay's would
                errors.append(f"{time.strftime('%H:%M:%S')} {type(exc).__name__}: {exc}")
                print(f"  publish failed: {errors[-1]}", flush=True)
            stop.wait(0.02)

    threads = [
        threading.Thread(target=publish, daemon=True),
        threading.Thread(
            target=lambda: consumer.consume(registry=registry, group=name, stop=stop),
            daemon=True,
        ),
    ]
    for thread in threads:
        thread.start()
    kills: dict[str, list[dict[str, Any]]] = {"publisher": [], "consumer": []}
    try:
        _until(lambda: len(handled) >= 100 and watcher.port is not None, "the consumer to start")
        for _ in range(args.kills):
            port = _publisher_port(publisher)
            kills["publisher"].append(_kill(cluster, queue, port, "publisher", confirmed, handled))
            _until(lambda: watcher.port is not None, "the consumer to be connected")
            kills["consumer"].append(
                _kill(cluster, queue, watcher.port, "consumer", confirmed, handled)
            )
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        publisher.close()
        rabbit_log.removeHandler(watcher)
    return _failover_figures(kills, errors)


def _until(done: Callable[[], bool], what: str, timeout: float = KILL_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _publisher_port(bus: Any) -> int | None:
    """The port of the node the bus's publisher is connected to (None between nodes)."""
    publisher = bus._confirming
    return None if publisher is None or publisher.parameters is None else publisher.parameters.port


def _first_after(moments: list[Moment], killed: float, port: int | None) -> float | None:
    """Seconds from `killed` to the first moment after it through another node than `port`."""
    later = [t for t, through in list(moments) if t > killed and through != port]
    return round(min(later) - killed, 3) if later else None


def _kill(
    cluster: RabbitCluster,
    queue: str,
    port: int | None,
    whose: str,
    confirmed: list[Moment],
    handled: list[Moment],
) -> dict[str, Any]:
    """SIGKILL the node on `port`; the seconds to the first confirmed publish and the first
    handled message after it; the node restarted (and rejoined) before returning."""
    node: ClusterNode = next(n for n in cluster.nodes if n.port == port)
    killed = time.time()
    node.kill()
    try:
        _until(
            lambda: (
                _first_after(confirmed, killed, port) is not None
                and _first_after(handled, killed, port) is not None
            ),
            f"a publish confirmed and a message handled after {node.name} was killed",
        )
    except RuntimeError as exc:  # reported as None: the failover did not happen in time
        print(f"  {exc}", flush=True)
    figures = {
        "killed": whose,
        "node": node.name,
        "first_confirmed_publish_s": _first_after(confirmed, killed, port),
        "first_handled_s": _first_after(handled, killed, port),
    }
    node.restart()
    # the next kill must leave a majority of the queue's replicas
    _until(lambda: cluster.offline_members(queue) == {}, f"the replicas on {node.name} online")
    print(f"  SIGKILL of the {whose}'s node {node.name}: {figures}", flush=True)
    return figures


def _failover_figures(kills: dict[str, list[dict[str, Any]]], errors: list[str]) -> dict[str, Any]:
    """Per kind of kill, the measured seconds of each kill, their median and max."""
    measured = {
        "publisher": ("first_confirmed_publish_s", "to the first confirmed publish"),
        "consumer": ("first_handled_s", "to the first handled message"),
    }
    figures: dict[str, Any] = {"kills": kills, "publish_errors": errors[:10], "summary": []}
    for whose, (key, label) in measured.items():
        seconds = [k[key] for k in kills[whose] if k[key] is not None]
        figures["summary"].append(
            {
                "label": f"SIGKILL of the {whose}'s node {label}",
                "key": key,
                "kills": len(kills[whose]),
                # a kill after which nothing happened within KILL_TIMEOUT counts as that long
                "not_within_timeout": len(kills[whose]) - len(seconds),
                "median_s": round(statistics.median(seconds or [KILL_TIMEOUT]), 3),
                "max_s": round(
                    max(seconds) if len(seconds) == len(kills[whose]) else KILL_TIMEOUT, 3
                ),
            }
        )
    for row in figures["summary"]:
        print(f"  {row['label']}: median {row['median_s']} s, max {row['max_s']} s")
    return figures


if __name__ == "__main__":
    main()
