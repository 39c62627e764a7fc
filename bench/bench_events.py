"""What does reliable publishing and consuming cost on RabbitMQ? Side by side, same broker:

publish, events/s:
  (a) the seed: a new connection per publish, no confirms
  (b) our RabbitMQBus.publish_many, batches of 100 as the outbox relay sends them: one
      long-lived channel, contract validation, mandatory, confirms awaited per batch
  (b1) our RabbitMQBus.publish, one event per call
  (c) a raw pika confirm-mode loop on one channel (the ceiling for confirmed publishing)
  targets: (b) >= 30x (a) and (b) >= 0.8x (c)
consume, events/s:
  (d) raw consume-and-ack loop
  (e) our consumer: contract validation + inbox row per event on PostgreSQL (dedupe), then ack
  (e50) the same in windows of 50 (CONSUME_WINDOW): one transaction and one multiple ack each

Not a test. Gets RabbitMQ and PostgreSQL like the integration tests (RABBITMQ_URL / DATABASE_URL,
else local server processes). Prints the figures and writes bench/results/events.json.

    .venv/bin/python bench/bench_events.py [--events 3000] [--seed-events 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "django_app"), str(REPO)]

RESULTS = REPO / "bench" / "results" / "events.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=3000, help="events per (b)/(c)/(d)/(e) run")
    parser.add_argument("--seed-events", type=int, default=200, help="events per (a) run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is reported")
    args = parser.parse_args()

    from integration_tests.servers import provide
    from integration_tests.servers.postgres import drop_database, fresh_database

    rabbit = provide("rabbitmq")
    postgres = provide("postgres")
    db_url = fresh_database(postgres.endpoint.url, f"bench_events_{os.getpid()}")
    os.environ.update(
        {
            "DATABASE_URL": db_url,
            "DJANGO_SETTINGS_MODULE": "project.settings.base",
            "DJANGO_SECRET_KEY": "bench-only-secret-key",
            "LOG_LEVEL": "WARNING",
        }
    )
    try:
        results = run(args, rabbit.endpoint.url)
        results["servers"] = {
            "rabbitmq": rabbit.endpoint.source,
            "postgres": postgres.endpoint.source,
        }
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(postgres.endpoint.url, db_url)
        postgres.close()
        rabbit.close()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten {RESULTS.relative_to(REPO)}")


def run(args: argparse.Namespace, amqp_url: str) -> dict[str, Any]:
    import django

    django.setup()
    import pika
    from django.core.management import call_command

    from microservices.events.backends import bus_settings
    from microservices.events.envelope import Envelope
    from microservices.events.handlers import HandlerRegistry
    from microservices.events.rabbitmq import RabbitMQBus
    from microservices.models import InboxEvent
    from shop.event_samples import sample_data

    call_command("migrate", run_syncdb=True, verbosity=0)
    name = f"bench{uuid.uuid4().hex[:6]}"
    bus = RabbitMQBus.from_config(
        bus_settings(rabbitmq_url=amqp_url, rabbitmq_exchange=name, rabbitmq_prefetch=50)
    )
    windowed = RabbitMQBus.from_config(
        bus_settings(
            rabbitmq_url=amqp_url, rabbitmq_exchange=name, rabbitmq_prefetch=50, consume_window=50
        )
    )
    group = name
    event_type = "order.created"
    bus.declare([event_type], group=group)
    queue = bus.topology.queue_name(group, event_type)
    admin = pika.BlockingConnection(pika.URLParameters(amqp_url))
    admin_channel = admin.channel()

    def purge() -> None:
        admin_channel.queue_purge(queue)

    def envelopes(n: int) -> list[Envelope]:
        return [Envelope.new(event_type, sample_data(event_type)) for _ in range(n)]

    persistent = pika.BasicProperties(delivery_mode=2, content_type="application/json")

    def seed_publish(n: int) -> float:
        """(a) The seed's publish(): connect, open a channel, declare the exchange, publish
        (persistent, no confirms), close, for every event."""
        bodies = [e.to_bytes() for e in envelopes(n)]
        params = pika.URLParameters(amqp_url)
        start = time.perf_counter()
        for body in bodies:
            connection = pika.BlockingConnection(params)
            channel = connection.channel()
            channel.exchange_declare(name, exchange_type="topic", durable=True)
            channel.basic_publish(name, event_type, body, persistent)
            connection.close()
        return n / (time.perf_counter() - start)

    def our_publish(n: int, batch_size: int = 100) -> float:
        """(b) RabbitMQBus.publish_many in batches of OUTBOX_BATCH_SIZE (100), what the outbox
        relay does: validation, mandatory, every event confirmed before the call returns."""
        batch = envelopes(n)
        bus.publish(batch[0])  # the channel is opened outside the timing, as in a live process
        start = time.perf_counter()
        for offset in range(1, n, batch_size):
            bus.publish_many(batch[offset : offset + batch_size])
        return (n - 1) / (time.perf_counter() - start)

    def our_publish_single(n: int) -> float:
        """(b1) RabbitMQBus.publish, one event per call (a confirm round trip each)."""
        batch = envelopes(n)
        bus.publish(batch[0])
        start = time.perf_counter()
        for envelope in batch[1:]:
            bus.publish(envelope)
        return (n - 1) / (time.perf_counter() - start)

    def raw_confirm_publish(n: int) -> float:
        """(c) Raw pika: one channel in confirm mode, mandatory persistent publishes."""
        bodies = [e.to_bytes() for e in envelopes(n)]
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        channel.confirm_delivery()
        start = time.perf_counter()
        for body in bodies:
            channel.basic_publish(name, event_type, body, persistent, mandatory=True)
        rate = n / (time.perf_counter() - start)
        connection.close()
        return rate

    def fill(n: int) -> None:
        purge()
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        channel.confirm_delivery()
        for envelope in envelopes(n):
            channel.basic_publish(name, event_type, envelope.to_bytes(), persistent)
        connection.close()

    def raw_consume(n: int) -> float:
        """(d) Raw consume-and-ack, prefetch 50."""
        fill(n)
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        channel.basic_qos(prefetch_count=50)
        seen = 0
        start = time.perf_counter()
        for method, _props, _body in channel.consume(queue, inactivity_timeout=10):
            if method is None:
                break
            channel.basic_ack(method.delivery_tag)
            seen += 1
            if seen == n:
                break
        rate = seen / (time.perf_counter() - start)
        channel.cancel()
        connection.close()
        return rate

    def our_consume(n: int, consumer: RabbitMQBus = bus) -> float:
        """(e) RabbitMQBus.consume: validation, inbox row + handler in one transaction, ack."""
        fill(n)
        InboxEvent.objects.all().delete()
        registry = HandlerRegistry()
        registry.add(event_type, lambda envelope: None, name="bench.noop")
        start = time.perf_counter()
        settled = consumer.consume(registry=registry, group=group, max_messages=n, idle_timeout=10)
        rate = settled / (time.perf_counter() - start)
        assert InboxEvent.objects.count() == n, "every event must have its inbox row"
        return rate

    runs: dict[str, list[float]] = {
        k: []
        for k in ("a_seed", "b_ours", "b1_ours_single", "c_raw", "d_raw", "e_ours", "e50_ours")
    }
    publishers: dict[str, Callable[[int], float]] = {
        "b_ours": our_publish,
        "b1_ours_single": our_publish_single,
        "c_raw": raw_confirm_publish,
    }
    for round_no in range(1, args.rounds + 1):
        purge()
        runs["a_seed"].append(seed_publish(args.seed_events))
        time.sleep(1)  # let the broker finish closing the seed's connections
        # the publishers take turns going first: the machine is shared, load drifts
        order = list(publishers)[round_no % 3 :] + list(publishers)[: round_no % 3]
        for key in order:
            purge()
            runs[key].append(publishers[key](args.events))
        purge()
        runs["d_raw"].append(raw_consume(args.events))
        runs["e_ours"].append(our_consume(args.events))
        runs["e50_ours"].append(our_consume(args.events, windowed))
        print(
            f"round {round_no}: "
            + "  ".join(f"{key}={values[-1]:,.0f}/s" for key, values in runs.items())
        )
    purge()
    admin.close()
    bus.close()
    windowed.close()

    median = {key: statistics.median(values) for key, values in runs.items()}
    ratios = {
        "b_over_a": median["b_ours"] / median["a_seed"],
        "b1_over_a": median["b1_ours_single"] / median["a_seed"],
        "b1_over_c": median["b1_ours_single"] / median["c_raw"],
        "b_over_c": median["b_ours"] / median["c_raw"],
        "e_over_d": median["e_ours"] / median["d_raw"],
        "e50_over_e": median["e50_ours"] / median["e_ours"],
    }
    targets = {
        "b_over_a >= 30": ratios["b_over_a"] >= 30,
        "b_over_c >= 0.8": ratios["b_over_c"] >= 0.8,
    }
    print("\npublish, events/s (median of rounds)")
    print(f"  (a) seed, connection per publish   {median['a_seed']:>10,.0f}")
    print(f"  (b) ours, batches of 100, confirms {median['b_ours']:>10,.0f}")
    print(f"  (b1) ours, one event per call      {median['b1_ours_single']:>10,.0f}")
    print(f"  (c) raw pika confirm loop          {median['c_raw']:>10,.0f}")
    print(f"  (b)/(a) = {ratios['b_over_a']:.1f}x   (target >= 30x)")
    print(f"  (b)/(c) = {ratios['b_over_c']:.2f}x   (target >= 0.8x)")
    print(f"  (b1)/(a) = {ratios['b1_over_a']:.1f}x  (b1)/(c) = {ratios['b1_over_c']:.2f}x")
    print("consume, events/s (median of rounds)")
    print(f"  (d) raw consume-and-ack            {median['d_raw']:>10,.0f}")
    print(f"  (e) ours, validation + inbox (PG)  {median['e_ours']:>10,.0f}")
    print(f"  (e50) ours, windows of 50          {median['e50_ours']:>10,.0f}")
    print(f"  (e)/(d) = {ratios['e_over_d']:.2f}x   (e50)/(e) = {ratios['e50_over_e']:.2f}x")
    print("targets met: " + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in targets.items()))
    return {
        "events_per_run": args.events,
        "seed_events_per_run": args.seed_events,
        "rounds": args.rounds,
        "events_per_second": {"runs": runs, "median": median},
        "ratios": ratios,
        "targets_met": targets,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }


if __name__ == "__main__":
    main()
