"""How close does our consumer come to raw clients that keep the same promise (each event's
effect recorded once, in PostgreSQL, before it is acknowledged)?

For RabbitMQ (a quorum queue, prefetch = 2 x window) and Redis Streams (a consumer group), on the
same queue or stream and the same inbox table, events/s of:
  raw ack        consume and acknowledge, nothing else (no PostgreSQL)
  raw inbox/msg  consume, INSERT ... ON CONFLICT DO NOTHING RETURNING per event, commit, ack it
  raw inbox/win  consume a window, one INSERT of its rows, one commit, one ack for all of them
  ours           bus.consume(): contract validation, the inbox row and a no-op handler in one
                 transaction per event, then the ack
  ours window    the same with CONSUME_WINDOW = window: one transaction and one inbox INSERT a
                 window, no savepoint, one (multiple) ack or XACK after the commit
Ours is compared with raw inbox/msg (the same guarantee, message by message), ours in windows
with raw inbox/win, and both with raw ack; the target (printed, not enforced) is ours in windows
>= 0.5x raw ack.
The raw clients read event_id from the message's metadata; ours decodes and validates the body.
Every PostgreSQL figure is taken on each server of --postgres, its settings printed with it.

    .venv/bin/python bench/bench_consume.py [--events 2000] [--durable-events 2000] [--rounds 3]
        [--window 50] [--postgres tests,durable] [--profile rabbitmq|redis]

--profile runs ours in windows once on that broker (on the first --postgres server) under
pyinstrument instead, and prints where the time goes and the SQL statements a window sends.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "django_app"), str(REPO)]

import pika  # noqa: E402
import redis  # noqa: E402
from django.db import connections  # noqa: E402

from bench.raw_inbox import EVENT_TYPE, HANDLER, Inbox  # noqa: E402
from bench.support import (  # noqa: E402
    POSTGRES_KINDS,
    Database,
    Ratio,
    databases,
    report,
    setup_django,
    take_turns,
    truncate,
    unique_name,
    use_database,
    write_results,
)
from integration_tests.servers import provide  # noqa: E402

TARGET = 0.5
RAW_FIGURES = {
    "raw_ack": "raw consume-and-ack (no PostgreSQL)",
    "raw_inbox_each": "raw + inbox INSERT, commit and ack per event",
    "raw_inbox_window": "raw + inbox INSERT per window, one commit, one ack",
    "ours": "ours: validation + inbox + no-op handler",
    "ours_window": "ours in windows: one transaction and one inbox INSERT a window",
}
RATIOS = [
    Ratio("ours / raw inbox per event (same guarantee)", "ours", "raw_inbox_each"),
    Ratio("ours / raw consume-and-ack", "ours", "raw_ack"),
    Ratio("ours in windows / ours per message", "ours_window", "ours"),
    Ratio("ours in windows / raw inbox per window", "ours_window", "raw_inbox_window"),
    Ratio("ours in windows / raw consume-and-ack", "ours_window", "raw_ack", TARGET),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000, help="events per run")
    parser.add_argument(
        "--durable-events",
        type=int,
        # as many as --events: ours connects and declares its topology inside its clock (what a
        # consumer process does once), which in a run of 600 weighed up to 40% of a window run
        default=2000,
        help="events per run on the durable server",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--window", type=int, default=50, help="prefetch / read count / window")
    parser.add_argument(
        "--postgres",
        default=",".join(POSTGRES_KINDS),
        help="PostgreSQL servers to run on: tests (fsync off), durable (fsync on)",
    )
    parser.add_argument(
        "--profile",
        choices=("rabbitmq", "redis"),
        help="instead: profile one run of ours in windows on this broker (pyinstrument)",
    )
    args = parser.parse_args()
    if args.profile:
        args.postgres = args.postgres.split(",")[0]
    with ExitStack() as stack:
        rabbit, redis_server = provide("rabbitmq"), provide("redis")
        stack.callback(rabbit.close)
        stack.callback(redis_server.close)
        dbs = databases(stack, args.postgres.split(","), unique_name("bench_consume_"))
        setup_django("project.settings.base", dbs[0])
        phases = [run(args, db, rabbit.endpoint.url, redis_server.endpoint.url) for db in dbs]
        stack.callback(connections.close_all)
    if args.profile:
        return
    write_results(
        "consume",
        {
            "rounds": args.rounds,
            "window": args.window,
            "phases": phases,
            "servers": {"rabbitmq": rabbit.endpoint.source, "redis": redis_server.endpoint.source},
        },
    )


def profile(measure: Callable[[], float], title: str) -> None:
    """Where ours in windows spends its time: one warm-up run, then one under pyinstrument,
    with the SQL statements it sent counted by their first word."""
    from pyinstrument import Profiler

    measure()
    statements: Counter[str] = Counter()

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements[sql.split(None, 1)[0].upper()] += 1
        return execute(sql, params, many, context)

    profiler = Profiler(interval=0.0002)
    with connections["default"].execute_wrapper(record), profiler:
        events_per_second = measure()
    print(f"\n== profile: {title}: {events_per_second:,.0f} events/s under the profiler")
    print(profiler.output_text(unicode=False, color=False, show_all=False))
    print("SQL statements in the profiled run:", dict(statements.most_common()))


def run(args: argparse.Namespace, db: Database, amqp_url: str, redis_url: str) -> dict[str, Any]:
    # Django is set up by now: these import its models and settings.
    from django_interlink.events.backends import bus_settings
    from django_interlink.events.envelope import Envelope
    from django_interlink.events.handlers import HandlerRegistry
    from django_interlink.events.rabbitmq import RabbitMQBus
    from django_interlink.events.redis_streams import RedisStreamsBus
    from django_interlink.models import InboxEvent
    from shop.event_samples import sample_data

    use_database(db)
    n = args.events if db.kind == "tests" else args.durable_events
    window = args.window
    table = InboxEvent._meta.db_table
    registry = HandlerRegistry()
    registry.add(EVENT_TYPE, lambda envelope: None, name=HANDLER)
    name = unique_name("benchcon")
    print(f"\n== {db.label} ({db.kind} server, {db.durability['filesystem']}), {n} events a run")

    def envelopes() -> list[Envelope]:
        return [Envelope.new(EVENT_TYPE, sample_data(EVENT_TYPE)) for _ in range(n)]

    def rate(started: float) -> float:
        return n / (time.perf_counter() - started)

    def inbox_rows() -> int:
        return InboxEvent.objects.filter(handler=HANDLER).count()

    def with_inbox(measure: Callable[[Inbox], float]) -> Callable[[], float]:
        def run_it() -> float:
            truncate(table)
            inbox = Inbox(db.url, table)
            try:
                result = measure(inbox)
            finally:
                inbox.close()
            assert inbox_rows() == n, "every event must have its inbox row"
            return result

        return run_it

    # -- RabbitMQ ------------------------------------------------------------------------
    prefetch = 2 * window  # the next window is on its way while one commits (W051)
    bus = RabbitMQBus.from_config(
        bus_settings(rabbitmq_url=amqp_url, rabbitmq_exchange=name, rabbitmq_prefetch=prefetch)
    )
    windowed = RabbitMQBus.from_config(
        bus_settings(
            rabbitmq_url=amqp_url,
            rabbitmq_exchange=name,
            rabbitmq_prefetch=prefetch,
            consume_window=window,
        )
    )
    bus.declare([EVENT_TYPE], group=name)
    queue = bus.topology.queue_name(name, EVENT_TYPE)
    admin = pika.BlockingConnection(pika.URLParameters(amqp_url))
    admin_channel = admin.channel()

    def ours(
        consumer: RabbitMQBus | RedisStreamsBus, fill: Callable[[], None]
    ) -> Callable[[], float]:
        """Our consumer draining n events (filled by `fill`), each leaving its inbox row."""

        def run_it() -> float:
            fill()
            truncate(table)
            started = time.perf_counter()
            settled = consumer.consume(
                registry=registry, group=name, max_messages=n, idle_timeout=10
            )
            result = rate(started)
            assert settled == n and inbox_rows() == n, "every event must have its inbox row"
            return result

        return run_it

    def fill_queue() -> None:
        admin_channel.queue_purge(queue)
        batch = envelopes()
        for i in range(0, n, 100):
            bus.publish_many(batch[i : i + 100])

    def rabbit_raw(on_window: Callable[[list[tuple[Any, Any]]], None], per_event: bool) -> float:
        """Consume n with prefetch 2 x window; hand each event (per_event) or each window on."""
        fill_queue()
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        channel.basic_qos(prefetch_count=prefetch)
        pending: list[tuple[Any, Any]] = []
        started = time.perf_counter()
        deliveries = channel.consume(queue, inactivity_timeout=10)
        for seen, (method, properties, _body) in enumerate(deliveries, start=1):
            if method is None:
                raise RuntimeError(f"RabbitMQ: only {seen - 1} of {n} events arrived")
            pending.append((method, properties))
            if per_event or len(pending) == window or seen == n:
                on_window(pending)
                channel.basic_ack(pending[-1][0].delivery_tag, multiple=not per_event)
                pending = []
            if seen == n:
                break
        result = rate(started)
        channel.cancel()
        connection.close()
        return result

    def rabbit_raw_ack() -> float:
        return rabbit_raw(lambda deliveries: None, per_event=True)

    def rabbit_inbox_each(inbox: Inbox) -> float:
        def record(deliveries: list[tuple[Any, Any]]) -> None:
            (_, properties) = deliveries[0]
            inbox.record(properties.message_id, properties.correlation_id)

        return rabbit_raw(record, per_event=True)

    def rabbit_inbox_window(inbox: Inbox) -> float:
        def record(deliveries: list[tuple[Any, Any]]) -> None:
            inbox.record_window([(p.message_id, p.correlation_id) for _, p in deliveries])

        return rabbit_raw(record, per_event=False)

    rabbit_measures = {
        "raw_ack": rabbit_raw_ack,
        "raw_inbox_each": with_inbox(rabbit_inbox_each),
        "raw_inbox_window": with_inbox(rabbit_inbox_window),
        "ours": ours(bus, fill_queue),
        "ours_window": ours(windowed, fill_queue),
    }
    if args.profile == "rabbitmq":
        profile(rabbit_measures["ours_window"], f"RabbitMQ, ours in windows of {window}")
    rabbit_runs = (
        {} if args.profile else take_turns(rabbit_measures, args.rounds, "RabbitMQ consume")
    )
    admin_channel.queue_delete(queue)
    admin_channel.queue_delete(bus.topology.dead_letter_queue(name))
    admin.close()
    bus.close()
    windowed.close()

    # -- Redis Streams -------------------------------------------------------------------
    streams = RedisStreamsBus.from_config(
        bus_settings(redis_url=redis_url, redis_stream_prefix=name)
    )
    windowed_streams = RedisStreamsBus.from_config(
        bus_settings(redis_url=redis_url, redis_stream_prefix=name, consume_window=window)
    )
    stream = streams.stream(EVENT_TYPE)
    # Any: redis-py annotates replies as unions over RESP2/RESP3 that do not narrow
    client: Any = redis.Redis.from_url(redis_url)

    def fill_stream() -> None:
        client.delete(stream)
        client.xgroup_create(stream, name, id="0", mkstream=True)
        batch = envelopes()
        for i in range(0, n, 100):
            pipe = client.pipeline(transaction=False)
            for e in batch[i : i + 100]:  # the fields RedisStreamsBus.publish writes
                fields = {"envelope": e.to_bytes(), "event_id": e.event_id}
                pipe.xadd(stream, {**fields, "correlation_id": e.correlation_id})
            pipe.execute()

    def redis_raw(on_batch: Callable[[list[tuple[bytes, dict[bytes, bytes]]]], None]) -> float:
        """XREADGROUP `window` entries at a time; `on_batch` handles and acknowledges them."""
        fill_stream()
        seen = 0
        started = time.perf_counter()
        while seen < n:
            response = client.xreadgroup(name, "raw", {stream: ">"}, count=window, block=10_000)
            if not response:
                raise RuntimeError(f"Redis: only {seen} of {n} events arrived")
            entries = response[0][1]
            on_batch(entries)
            seen += len(entries)
        return rate(started)

    def redis_raw_ack() -> float:
        return redis_raw(lambda entries: client.xack(stream, name, *[i for i, _ in entries]))

    def redis_inbox_each(inbox: Inbox) -> float:
        def record(entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
            for entry_id, fields in entries:
                inbox.record(fields[b"event_id"].decode(), fields[b"correlation_id"].decode())
                client.xack(stream, name, entry_id)

        return redis_raw(record)

    def redis_inbox_window(inbox: Inbox) -> float:
        def record(entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
            inbox.record_window(
                [(f[b"event_id"].decode(), f[b"correlation_id"].decode()) for _, f in entries]
            )
            client.xack(stream, name, *[i for i, _ in entries])

        return redis_raw(record)

    redis_measures = {
        "raw_ack": redis_raw_ack,
        "raw_inbox_each": with_inbox(redis_inbox_each),
        "raw_inbox_window": with_inbox(redis_inbox_window),
        "ours": ours(streams, fill_stream),
        "ours_window": ours(windowed_streams, fill_stream),
    }
    if args.profile == "redis":
        profile(redis_measures["ours_window"], f"Redis Streams, ours in windows of {window}")
    redis_runs = (
        {} if args.profile else take_turns(redis_measures, args.rounds, "Redis Streams consume")
    )
    client.delete(stream)
    client.close()
    streams.close()
    windowed_streams.close()

    if args.profile:
        return {}
    context = {"postgres": db.kind, "postgres_settings": db.durability, "events_per_run": n}
    return {
        **context,
        "rabbitmq": report(
            f"RabbitMQ consume (quorum queue, prefetch {prefetch}, window {window}), {db.label}",
            RAW_FIGURES,
            rabbit_runs,
            RATIOS,
            **context,
        ),
        "redis_streams": report(
            f"Redis Streams consume (raw and ours in windows read {window} at a time; ours "
            f"per message reads {RedisStreamsBus.batch}), {db.label}",
            RAW_FIGURES,
            redis_runs,
            RATIOS,
            **context,
        ),
    }


if __name__ == "__main__":
    main()
