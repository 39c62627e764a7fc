"""How close does our publishing come to a raw client doing the same work on the same broker?

RabbitMQ (persistent, mandatory, publisher confirms, one long-lived channel, a quorum queue):
  batched  ours: RabbitMQBus.publish_many in batches of OUTBOX_BATCH_SIZE (the outbox relay's call)
           raw:  pika SelectConnection, each batch sent at once and its confirms awaited together
  single   ours: RabbitMQBus.publish, one event per call
           raw:  one publish and its confirm at a time, on SelectConnection as above (the
                 target's ceiling) and on pika's BlockingChannel in confirm mode (printed too)
Redis Streams (XADD: Redis holds the entry when it replies; its AOF setting is printed):
  batched  ours: RedisStreamsBus.publish_many, same batches; raw: each batch's XADDs in one pipeline
  single   ours: RedisStreamsBus.publish; raw: one XADD per round trip
Ratios only within a row. Targets, printed and not enforced: batched >= 0.8x, single >= 0.9x.
Ours validates and encodes each event; the raw clients send bytes made before the clock starts.

    .venv/bin/python bench/bench_publish.py [--events 5000] [--single-events 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "django_app"), str(REPO)]

import pika  # noqa: E402
import redis  # noqa: E402
from pika.adapters.select_connection import SelectConnection  # noqa: E402
from pika.channel import Channel  # noqa: E402

from bench.support import Ratio, report, setup_django, take_turns, unique_name  # noqa: E402
from bench.support import write_results as write  # noqa: E402
from integration_tests.servers import provide  # noqa: E402

EVENT_TYPE = "order.created"
PERSISTENT = {"delivery_mode": 2, "content_type": "application/json"}
BATCHED_TARGET = 0.8
SINGLE_TARGET = 0.9


class PipelinedPublisher:
    """The raw ceiling for batched publishing: pika's SelectConnection, a channel in confirm
    mode; `publish(batch)` sends every message at once, mandatory and persistent, then runs the
    ioloop until each has its confirm (the same window as ours, none of our code)."""

    def __init__(self, url: str, exchange: str, routing_key: str, timeout: float = 30.0) -> None:
        self.exchange = exchange
        self.routing_key = routing_key
        self.timeout = timeout
        self.channel: Channel | None = None
        self.ready = False
        self.sent = 0
        self.unconfirmed: set[int] = set()
        self.nacked = 0
        self.connection = SelectConnection(
            pika.URLParameters(url),
            on_open_callback=lambda conn: conn.channel(on_open_callback=self._on_channel),
            on_open_error_callback=lambda conn, error: self._stop(),
            on_close_callback=lambda conn, reason: self._stop(),
        )
        self._run(lambda: self.ready)

    def _on_channel(self, channel: Channel) -> None:
        self.channel = channel
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=self._on_select_ok)

    def _on_select_ok(self, frame: object) -> None:
        self.ready = True
        self._stop()

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tag = int(method.delivery_tag)
        done = {t for t in self.unconfirmed if t <= tag} if method.multiple else {tag}
        self.unconfirmed -= done
        if isinstance(method, pika.spec.Basic.Nack):
            self.nacked += len(done)
        if not self.unconfirmed:
            self._stop()

    def _stop(self) -> None:
        self.connection.ioloop.stop()

    def _run(self, done: Callable[[], bool]) -> None:
        ioloop = self.connection.ioloop
        timer = ioloop.call_later(self.timeout, ioloop.stop)
        deadline = time.monotonic() + self.timeout
        while not done() and time.monotonic() < deadline:
            ioloop.start()
        ioloop.remove_timeout(timer)
        if not done():
            raise RuntimeError("raw pipelined publisher: no answer from the broker in time")

    def publish(self, batch: list[tuple[bytes, pika.BasicProperties]]) -> None:
        assert self.channel is not None
        for body, properties in batch:
            self.channel.basic_publish(
                self.exchange, self.routing_key, body, properties, mandatory=True
            )
            self.sent += 1
            self.unconfirmed.add(self.sent)
        self._run(lambda: not self.unconfirmed)
        if self.nacked:
            raise RuntimeError(f"the broker nacked {self.nacked} messages")

    def close(self) -> None:
        self.connection.close()
        self._run(lambda: self.connection.is_closed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000, help="events per batched run")
    parser.add_argument("--single-events", type=int, default=1000, help="events per single run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    args = parser.parse_args()
    with ExitStack() as stack:
        rabbit, redis_server = provide("rabbitmq"), provide("redis")
        stack.callback(rabbit.close)
        stack.callback(redis_server.close)
        setup_django("project.settings.base", None)
        results = run(args, rabbit.endpoint.url, redis_server.endpoint.url)
        results["servers"] = {
            "rabbitmq": rabbit.endpoint.source,
            "redis": redis_server.endpoint.source,
        }
    write("publish", results)


def run(args: argparse.Namespace, amqp_url: str, redis_url: str) -> dict[str, Any]:
    # Django is set up by now: these import its models and settings.
    from django_interlink.conf import ms_settings
    from django_interlink.events.backends import bus_settings
    from django_interlink.events.envelope import Envelope
    from django_interlink.events.rabbitmq import RabbitMQBus
    from django_interlink.events.redis_streams import RedisStreamsBus
    from shop.event_samples import sample_data

    batch_size = int(ms_settings.EVENT_BUS["OUTBOX_BATCH_SIZE"])

    def envelopes(n: int) -> list[Envelope]:
        return [Envelope.new(EVENT_TYPE, sample_data(EVENT_TYPE)) for _ in range(n)]

    def batches(items: list[Any]) -> list[list[Any]]:
        return [items[i : i + batch_size] for i in range(0, len(items), batch_size)]

    def rate(n: int, started: float) -> float:
        return n / (time.perf_counter() - started)

    # -- RabbitMQ: our bus declares the queue, so mandatory publishes are routed ----------
    name = unique_name("benchpub")
    bus = RabbitMQBus.from_config(bus_settings(rabbitmq_url=amqp_url, rabbitmq_exchange=name))
    bus.declare([EVENT_TYPE], group=name)
    queue = bus.topology.queue_name(name, EVENT_TYPE)
    admin = pika.BlockingConnection(pika.URLParameters(amqp_url))
    admin_channel = admin.channel()

    def raw_messages(n: int) -> list[tuple[bytes, pika.BasicProperties]]:
        return [
            (e.to_bytes(), pika.BasicProperties(message_id=e.event_id, **PERSISTENT))
            for e in envelopes(n)
        ]

    def ours_batched() -> float:
        admin_channel.queue_purge(queue)
        work = batches(envelopes(args.events))
        bus.publish(envelopes(1)[0])  # the channel opens outside the clock, as in a live relay
        started = time.perf_counter()
        for batch in work:
            bus.publish_many(batch)
        return rate(args.events, started)

    def raw_pipelined() -> float:
        admin_channel.queue_purge(queue)
        work = batches(raw_messages(args.events))
        publisher = PipelinedPublisher(amqp_url, name, EVENT_TYPE)
        started = time.perf_counter()
        for batch in work:
            publisher.publish(batch)
        result = rate(args.events, started)
        publisher.close()
        return result

    def ours_single() -> float:
        admin_channel.queue_purge(queue)
        work = envelopes(args.single_events)
        bus.publish(envelopes(1)[0])
        started = time.perf_counter()
        for envelope in work:
            bus.publish(envelope)
        return rate(args.single_events, started)

    def raw_window_one() -> float:
        admin_channel.queue_purge(queue)
        work = raw_messages(args.single_events)
        publisher = PipelinedPublisher(amqp_url, name, EVENT_TYPE)
        started = time.perf_counter()
        for message in work:
            publisher.publish([message])
        result = rate(args.single_events, started)
        publisher.close()
        return result

    def raw_one_at_a_time() -> float:
        admin_channel.queue_purge(queue)
        work = raw_messages(args.single_events)
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        channel.confirm_delivery()
        started = time.perf_counter()
        for body, properties in work:
            channel.basic_publish(name, EVENT_TYPE, body, properties, mandatory=True)
        result = rate(args.single_events, started)
        connection.close()
        return result

    rabbit_runs = take_turns(
        {
            "ours_batched": ours_batched,
            "raw_pipelined": raw_pipelined,
            "ours_single": ours_single,
            "raw_window_one": raw_window_one,
            "raw_one_at_a_time": raw_one_at_a_time,
        },
        args.rounds,
        "RabbitMQ publish",
    )
    admin_channel.queue_delete(queue)
    admin_channel.queue_delete(bus.topology.dead_letter_queue(name))
    admin.close()
    bus.close()
    rabbit = report(
        "RabbitMQ publish (persistent, mandatory, confirmed; quorum queue)",
        {
            "ours_batched": f"ours, publish_many, batches of {batch_size}",
            "raw_pipelined": f"raw pika SelectConnection, window {batch_size}",
            "ours_single": "ours, publish, one event per call",
            "raw_window_one": "raw pika SelectConnection, window 1",
            "raw_one_at_a_time": "raw pika BlockingChannel, one confirm at a time",
        },
        rabbit_runs,
        [
            Ratio("batched: ours / raw pipelined", "ours_batched", "raw_pipelined", BATCHED_TARGET),
            Ratio("single: ours / raw window 1", "ours_single", "raw_window_one", SINGLE_TARGET),
            Ratio("single: ours / raw BlockingChannel loop", "ours_single", "raw_one_at_a_time"),
        ],
        batch_size=batch_size,
        events_per_batched_run=args.events,
        events_per_single_run=args.single_events,
    )

    # -- Redis Streams ---------------------------------------------------------------------
    prefix = unique_name("benchpub")
    streams = RedisStreamsBus.from_config(
        bus_settings(redis_url=redis_url, redis_stream_prefix=prefix)
    )
    stream = streams.stream(EVENT_TYPE)
    # Any: redis-py annotates replies as unions over RESP2/RESP3 that do not narrow
    client: Any = redis.Redis.from_url(redis_url)
    persistence = {**client.config_get("appendonly"), **client.config_get("save")}

    def raw_fields(n: int) -> list[dict[str, Any]]:
        return [
            {"envelope": e.to_bytes(), "event_id": e.event_id, "correlation_id": e.correlation_id}
            for e in envelopes(n)
        ]

    def redis_ours_batched() -> float:
        client.delete(stream)
        work = batches(envelopes(args.events))
        started = time.perf_counter()
        for batch in work:
            streams.publish_many(batch)
        return rate(args.events, started)

    def redis_raw_pipelined() -> float:
        client.delete(stream)
        work = batches(raw_fields(args.events))
        started = time.perf_counter()
        for batch in work:
            pipe = client.pipeline(transaction=False)
            for fields in batch:
                pipe.xadd(stream, fields)
            pipe.execute()
        return rate(args.events, started)

    def redis_ours_single() -> float:
        client.delete(stream)
        work = envelopes(args.single_events)
        started = time.perf_counter()
        for envelope in work:
            streams.publish(envelope)
        return rate(args.single_events, started)

    def redis_raw_one_at_a_time() -> float:
        client.delete(stream)
        work = raw_fields(args.single_events)
        started = time.perf_counter()
        for fields in work:
            client.xadd(stream, fields)
        return rate(args.single_events, started)

    streams.publish(envelopes(1)[0])  # connect outside the clock
    redis_runs = take_turns(
        {
            "ours_batched": redis_ours_batched,
            "raw_pipelined": redis_raw_pipelined,
            "ours_single": redis_ours_single,
            "raw_one_at_a_time": redis_raw_one_at_a_time,
        },
        args.rounds,
        "Redis Streams publish",
    )
    client.delete(stream)
    client.close()
    streams.close()
    redis_report = report(
        f"Redis Streams publish (XADD; appendonly={persistence['appendonly']}, "
        f"save={persistence['save']!r})",
        {
            "ours_batched": f"ours, publish_many, batches of {batch_size}",
            "raw_pipelined": f"raw redis-py, {batch_size} XADDs per pipeline",
            "ours_single": "ours, publish, one event per call",
            "raw_one_at_a_time": "raw redis-py, one XADD per round trip",
        },
        redis_runs,
        [
            Ratio("batched: ours / raw pipelined", "ours_batched", "raw_pipelined", BATCHED_TARGET),
            Ratio(
                "single: ours / raw one at a time",
                "ours_single",
                "raw_one_at_a_time",
                SINGLE_TARGET,
            ),
        ],
        redis_persistence=persistence,
        batch_size=batch_size,
        events_per_batched_run=args.events,
        events_per_single_run=args.single_events,
    )
    return {"rounds": args.rounds, "rabbitmq": rabbit, "redis_streams": redis_report}


if __name__ == "__main__":
    main()
