"""Our outbox relay and idempotent consumer against a real peer, django-outbox-pattern 3.2.1,
on the same RabbitMQ node and PostgreSQL database in the same run. Events/s of:

  relay    N outbox rows seeded (outside the clock); the clock runs until the broker's queue
           holds all N. Ours: outbox_relay(), batches of OUTBOX_BATCH_SIZE over AMQP. The peer:
           its `publish` command's loop (Producer.publish_message_from_database) over STOMP.
  consume  those N messages, each deduplicated by the library's own means. Ours: bus.consume()
           (validation, inbox row + no-op handler, ack). The peer: Consumer.start() with the
           README's callback (payload.save() in a transaction; the library acks).

Same events (the same envelope as the body), persistent messages, queues of the same type with
the same prefetch; what each side promises is printed with the figures. Our target: ahead of
the peer on both (ours / peer >= 1). The bench starts its own RabbitMQ node, with the
rabbitmq_stomp plugin that the peer needs.

    .venv/bin/python bench/bench_peer.py [--events 1500] [--durable-events 600] [--rounds 3]
        [--queue-type quorum] [--postgres tests,durable]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "django_app"), str(REPO)]

import pika  # noqa: E402
from django.db import connections, transaction  # noqa: E402

from bench.support import (  # noqa: E402
    POSTGRES_KINDS,
    Database,
    Ratio,
    databases,
    report,
    setup_django,
    truncate,
    turn_order,
    unique_name,
    use_database,
    write_results,
)
from integration_tests.servers import rabbitmq  # noqa: E402
from integration_tests.servers.process import free_ports  # noqa: E402

EVENT_TYPE = "order.created"
HANDLER = "bench.noop"
PREFETCH = 50
TIMEOUT = 120.0  # seconds any one measure may take before the bench gives up

PROMISES = {
    "ours_relay": (
        "a row is marked sent only after the broker confirmed it (publisher confirms, "
        "mandatory: an unroutable event stays pending); one transaction per batch"
    ),
    "peer_relay": (
        "a row is marked SUCCEEDED once its STOMP SEND is written to the socket: no receipt is "
        "asked for, so a message the broker lost is still marked sent; all due rows in one "
        "transaction per pass, one UPDATE per row, a new STOMP connection per pass"
    ),
    "ours_consume": (
        "contract validation; the inbox row (unique event_id + handler) and the handler commit "
        "in one transaction, then the ack"
    ),
    "peer_consume": (
        "a lookup of the message id in Received, then the callback's transaction saves the "
        "Received row (unique msg_id; body and headers kept), then the ack; no validation"
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1500, help="events per run")
    parser.add_argument(
        "--durable-events", type=int, default=600, help="events per run on the durable server"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--queue-type", default="quorum", choices=("quorum", "classic"))
    parser.add_argument(
        "--postgres",
        default=",".join(POSTGRES_KINDS),
        help="PostgreSQL servers to run on: tests (fsync off), durable (fsync on)",
    )
    args = parser.parse_args()
    with ExitStack() as stack:
        (stomp_port,) = free_ports(1)
        node = rabbitmq.as_process(stomp_port=stomp_port)
        stack.callback(node.close)
        dbs = databases(stack, args.postgres.split(","), unique_name("bench_peer_"))
        setup_django(
            "bench.peer_settings",
            dbs[0],
            BENCH_STOMP_PORT=str(stomp_port),
            BENCH_STOMP_USERNAME=node.endpoint.username,
            BENCH_STOMP_PASSCODE=node.endpoint.password,
            BENCH_PREFETCH=str(PREFETCH),
            BENCH_QUEUE_TYPE=args.queue_type,
        )
        stack.callback(connections.close_all)
        print("What each side promises:")
        for key, promise in PROMISES.items():
            print(f"  {key}: {promise}")
        phases = [run(args, db, node.endpoint.url) for db in dbs]
    write_results(
        "peer",
        {
            "peer": "django-outbox-pattern 3.2.1 (PyPI), stomp.py, RabbitMQ's rabbitmq_stomp",
            "rounds": args.rounds,
            "queue_type": args.queue_type,
            "prefetch": PREFETCH,
            "promises": PROMISES,
            "phases": phases,
        },
    )


def run(args: argparse.Namespace, db: Database, amqp_url: str) -> dict[str, Any]:
    # Django is set up by now: these import its models and settings (the peer's too).
    from django.core.serializers.json import DjangoJSONEncoder
    from django_outbox_pattern.choices import StatusChoice
    from django_outbox_pattern.factories import factory_consumer, factory_producer
    from django_outbox_pattern.models import Published, Received

    from bench.peer import SavedCounter
    from django_interlink.conf import ms_settings
    from django_interlink.events.backends import bus_settings
    from django_interlink.events.contract import encode_event
    from django_interlink.events.envelope import Envelope
    from django_interlink.events.handlers import HandlerRegistry
    from django_interlink.events.outbox import outbox_enqueue, outbox_pending_count, outbox_relay
    from django_interlink.events.rabbitmq import RabbitMQBus
    from django_interlink.models import InboxEvent, OutboxEvent
    from shop.event_samples import sample_data

    use_database(db)
    n = args.events if db.kind == "tests" else args.durable_events
    name = unique_name("benchpeer")
    print(f"\n== {db.label} ({db.kind} server, {db.durability['filesystem']}), {n} events a run")

    bus = RabbitMQBus.from_config(
        bus_settings(
            rabbitmq_url=amqp_url,
            rabbitmq_exchange=name,
            rabbitmq_prefetch=PREFETCH,
            rabbitmq_queue_type=args.queue_type,
        )
    )
    bus.declare([EVENT_TYPE], group=name)
    our_queue = bus.topology.queue_name(name, EVENT_TYPE)
    registry = HandlerRegistry()
    registry.add(EVENT_TYPE, lambda envelope: None, name=HANDLER)

    # The peer's queue, made the library's way: a consumer subscribes once (the STOMP plugin
    # declares a durable queue bound to amq.topic, and its dead-letter queue), then leaves.
    destination = f"/topic/{name}.{EVENT_TYPE}"
    peer_queue = f"{name}.peer"
    subscriber = factory_consumer()
    subscriber.start(lambda payload: payload.nack(), destination, peer_queue)
    subscriber.stop()
    producer = factory_producer()

    admin = pika.BlockingConnection(pika.URLParameters(amqp_url))
    admin_channel = admin.channel()

    def depth(queue: str) -> int:
        return int(admin_channel.queue_declare(queue, passive=True).method.message_count)

    def wait_for_depth(queue: str, count: int, started: float, step: Callable[[], None]) -> None:
        while depth(queue) != count:
            if time.perf_counter() - started > TIMEOUT:
                raise RuntimeError(f"{queue}: {depth(queue)} messages, expected {count}")
            step()

    def envelopes(count: int) -> list[Envelope]:
        return [Envelope.new(EVENT_TYPE, sample_data(EVENT_TYPE)) for _ in range(count)]

    def ours_relay(count: int) -> float:
        """Seed `count` outbox rows (untimed), then relay them until the queue holds them all."""
        truncate(OutboxEvent._meta.db_table, InboxEvent._meta.db_table)
        admin_channel.queue_purge(our_queue)
        with transaction.atomic():
            for envelope in envelopes(count):
                outbox_enqueue(EVENT_TYPE, envelope.data)
        started = time.perf_counter()
        outbox_relay(bus=bus)
        wait_for_depth(our_queue, count, started, lambda: time.sleep(0.002))
        rate = count / (time.perf_counter() - started)
        assert outbox_pending_count() == 0
        return rate

    def ours_consume(count: int) -> float:
        started = time.perf_counter()
        settled = bus.consume(registry=registry, group=name, max_messages=count, idle_timeout=10)
        rate = count / (time.perf_counter() - started)
        assert settled == count == InboxEvent.objects.count(), "one inbox row per event"
        assert depth(our_queue) == 0
        return rate

    lost: list[int] = []  # per peer relay run: rows marked sent that never reached the queue

    def peer_relay(count: int) -> float:
        """The same with the peer: Published rows, then its publish loop, until the broker has
        every message, or every row is marked sent and the queue stopped growing (the peer
        asks for no receipt: what the broker never got is counted as lost, not waited for)."""
        truncate(Published._meta.db_table, Received._meta.db_table)
        admin_channel.queue_purge(peer_queue)
        with transaction.atomic():
            for envelope in envelopes(count):
                Published.objects.create(destination=destination, body=envelope.to_dict())
        started = time.perf_counter()
        settled_at, seen = 0.0, -1
        while (arrived := depth(peer_queue)) != count:
            if time.perf_counter() - started > TIMEOUT:
                raise RuntimeError(f"{peer_queue}: {arrived} messages, expected {count}")
            if Published.objects.filter(status=StatusChoice.SCHEDULE).exists():
                producer.publish_message_from_database()
                continue
            if arrived != seen:
                settled_at, seen = time.perf_counter(), arrived
            elif time.perf_counter() - settled_at > 2.0:
                break  # all marked sent, nothing more arriving
            time.sleep(0.01)
        # the rate counts what arrived; the lost ones are recorded beside it
        rate = arrived / (time.perf_counter() - started)
        lost.append(count - arrived)
        if arrived != count:
            print(f"  the peer marked {count} rows sent, the broker got {arrived}", flush=True)
        return rate

    def peer_consume(count: int) -> float:
        count -= lost[-1]  # what the peer's relay delivered
        counter = SavedCounter(count)
        consumer = factory_consumer()
        started = time.perf_counter()
        consumer.start(counter.callback(), destination, peer_queue)
        if not counter.wait(TIMEOUT):
            raise RuntimeError(f"the peer consumer saved {counter.saved} of {count}")
        rate = count / (time.perf_counter() - started)
        consumer.stop()
        assert Received.objects.count() == count, "one Received row per message"
        assert depth(peer_queue) == 0
        return rate

    def persistent(queue: str) -> bool:
        """Peek at one message on the broker (then requeue it): stored as persistent?"""
        method, properties, _body = admin_channel.basic_get(queue, auto_ack=False)
        admin_channel.basic_nack(method.delivery_tag, requeue=True)
        return bool(properties.delivery_mode == 2)

    sides = {
        "ours": (ours_relay, ours_consume, our_queue),
        "peer": (peer_relay, peer_consume, peer_queue),
    }
    # One round, not recorded, warms both up (connections, caches) and checks persistence.
    stored_persistent = {}
    for side, (relay, consume, queue) in sides.items():
        relay(min(n, 100))
        stored_persistent[side] = persistent(queue)
        consume(min(n, 100))

    runs: dict[str, list[float]] = {key: [] for key in PROMISES}
    for round_no in range(args.rounds):
        for side in turn_order(list(sides), round_no):
            relay, consume, _queue = sides[side]
            runs[f"{side}_relay"].append(relay(n))
            runs[f"{side}_consume"].append(consume(n))
        figures = "  ".join(f"{key}={values[-1]:,.0f}/s" for key, values in runs.items())
        print(f"  peer bench, round {round_no + 1}: {figures}", flush=True)
    sample = envelopes(1)[0]
    sizes = {
        "ours_body_bytes": len(encode_event(sample)),
        "peer_body_bytes": len(json.dumps(sample.to_dict(), cls=DjangoJSONEncoder)),
    }
    admin_channel.queue_delete(our_queue)
    admin_channel.queue_delete(bus.topology.dead_letter_queue(name))
    admin_channel.queue_delete(peer_queue)
    admin_channel.queue_delete(f"DLQ.{peer_queue}")
    admin.close()
    bus.close()
    batch = int(ms_settings.EVENT_BUS["OUTBOX_BATCH_SIZE"])
    print(
        f"  body bytes: ours {sizes['ours_body_bytes']}, peer {sizes['peer_body_bytes']}; "
        f"stored as persistent on the broker: {stored_persistent}"
    )
    return report(
        f"Ours vs django-outbox-pattern ({args.queue_type} queues, prefetch {PREFETCH}), "
        f"{db.label}",
        {
            "ours_relay": f"ours: outbox_relay(), batches of {batch}, confirms",
            "peer_relay": "peer: publish loop over STOMP, no receipts",
            "ours_consume": "ours: consume, validation + inbox",
            "peer_consume": "peer: Consumer + callback, Received row",
        },
        runs,
        [
            Ratio("relay: ours / peer", "ours_relay", "peer_relay", 1.0),
            Ratio("consume: ours / peer", "ours_consume", "peer_consume", 1.0),
        ],
        postgres=db.kind,
        postgres_settings=db.durability,
        events_per_run=n,
        stored_as_persistent=stored_persistent,
        # the warm-up run first: rows the peer marked sent that never reached the broker
        peer_lost_per_run=lost,
        **sizes,
    )


if __name__ == "__main__":
    main()
