"""Where does the consumer's tracing cost go? One process with tracing on (bench_tracing.py's
"on": the SDK, a BatchSpanProcessor, the instrumentations) consumes the same events again and
again while parts of our tracing are switched off between turns, so every variant runs in the
same process, on the same connections, under the same machine drift:

    on                as shipped: a process and a settle span a message, or two spans and a link
                      per message a window
    no settle spans   the settle spans left out (the bus's own calls still quiet)
    no window links   a window's process span without its links to the messages' publishes
    no-op spans       our code runs all of it, but its tracer is the API's no-op one: what is left
                      is our own code around the SDK
    untraced          none of our consumer spans (the SDK still installed, the bus still quiet)

Each turn reports the process's CPU time per event as well as its rate; the medians of the CPU
times, less "untraced", say what each part costs. A diagnostic, not a benchmark: it swaps the
functions the consumer modules imported (trace_context's `processing`, `settling` and their
window forms) for stand-ins, and on a shared 2-core machine its medians still move by 10-20 us
from one run to the next, so `make bench` does not run it and no table quotes it.

    .venv/bin/python bench/tracing_parts.py [--events 2000] [--rounds 7]

Not a test. Prints the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "django_app"), str(REPO)]

from bench.support import (  # noqa: E402
    Database,
    Ratio,
    durability,
    durability_label,
    report,
    setup_django,
    take_turns,
    unique_name,
)
from bench.tracing_worker import (  # noqa: E402
    CONSUMERS,
    TRACEPARENT,
    WINDOW,
    consume_workload,
    tracing_on,
)
from django_interlink.management.heap import freeze_startup_heap  # noqa: E402
from servers import provide  # noqa: E402
from servers.postgres import drop_database, fresh_database  # noqa: E402

VARIANTS = ("on", "no settle spans", "no window links", "no-op spans", "untraced")
TITLES = {
    "rabbitmq": "RabbitMQ consume, ours per message (quorum queue)",
    "rabbitmq_window": f"RabbitMQ consume, ours in windows of {WINDOW} (quorum queue)",
    "redis": "Redis Streams consume, ours per message",
    "redis_window": f"Redis Streams consume, ours in windows of {WINDOW}",
}


def switches() -> Callable[[str], None]:
    """A function that puts the consumer modules in one of VARIANTS (each call undoes the last)."""
    from opentelemetry import trace

    from django_interlink.events import consumer, trace_context
    from django_interlink.events.rabbitmq import settle as rabbitmq_settle
    from django_interlink.events.redis import stream_run as redis_run
    from django_interlink.request_id import bind_request_id

    # what the modules hold as shipped (looked up by name: they import these, not export them)
    shipped: dict[str, Any] = {
        **{name: vars(trace_context)[name] for name in ("tracer", "linked")},
        **{name: vars(consumer)[name] for name in ("processing", "processing_window")},
        **{name: vars(trace_context)[name] for name in ("settling", "settling_window")},
    }
    noop = trace.NoOpTracer()

    @contextlib.contextmanager
    def untraced_processing(envelope: Any, *_: Any) -> Iterator[trace.Span]:
        with bind_request_id(envelope.correlation_id):
            yield trace.INVALID_SPAN

    @contextlib.contextmanager
    def untraced_window(*_: Any) -> Iterator[trace.Span]:
        yield trace.INVALID_SPAN

    def quiet_only(*_: Any, **__: Any) -> contextlib.AbstractContextManager[None]:
        return trace_context._suppressed()

    def switch(variant: str) -> None:
        settling, settling_window = shipped["settling"], shipped["settling_window"]
        processing, processing_window = shipped["processing"], shipped["processing_window"]
        tracer, linked = shipped["tracer"], shipped["linked"]
        if variant == "no-op spans":
            tracer = lambda: noop  # noqa: E731
        elif variant == "no window links":
            linked = lambda headers: None  # noqa: E731
        elif variant in ("no settle spans", "untraced"):
            settling = settling_window = quiet_only
        if variant == "untraced":
            processing, processing_window = untraced_processing, untraced_window
        vars(trace_context).update(tracer=tracer, linked=linked)
        vars(consumer).update(processing=processing, processing_window=processing_window)
        for module in (rabbitmq_settle, redis_run):
            vars(module).update(settling=settling, settling_window=settling_window)

    return switch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000, help="events a turn")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; medians are reported")
    args = parser.parse_args()
    with ExitStack() as stack:
        results = run(args, stack)
    print(json.dumps(results, indent=2))


def run(args: argparse.Namespace, stack: ExitStack) -> dict[str, Any]:
    postgres, rabbit, redis_server = provide("postgres"), provide("rabbitmq"), provide("redis")
    for server in (postgres, rabbit, redis_server):
        stack.callback(server.close)
    url = fresh_database(postgres.endpoint.url, unique_name("bench_tracing_parts_"))
    stack.callback(drop_database, postgres.endpoint.url, url)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "project.settings.base",
            "DATABASE_URL": url,
            "DJANGO_SECRET_KEY": "bench-only-secret-key",
            "LOG_LEVEL": "WARNING",
            "RABBITMQ_URL": rabbit.endpoint.url,
            "REDIS_URL": redis_server.endpoint.url,
            "EVENT_BUS_ALLOW_MEMORY_BUS": "1",
        }
    )
    spans = tracing_on()  # before Django is set up, as the real setup instruments it
    setup_django("project.settings.base", Database("tests", url, durability(url)))
    switch = switches()
    label = f"PostgreSQL {durability_label(durability(url))}".replace(
        "fsync=off synchronous_commit=off full_page_writes=off", "fsync off"
    )
    sections: dict[str, Any] = {}
    for workload in CONSUMERS:
        broker, _, windowed = workload.partition("_")
        consume = consume_workload(
            broker, window=WINDOW if windowed else None, contexts={"traceparent": TRACEPARENT}.copy
        )
        freeze_startup_heap()  # as manage.py consume_events does before its loop
        consume(args.events // 10)  # warm-up: connections, caches, the queue and the stream
        cpu: dict[str, list[float]] = {variant: [] for variant in VARIANTS}

        def turn(variant: str, consume: Any = consume, cpu: Any = cpu) -> float:
            switch(variant)
            try:
                rate, seconds = consume(args.events)
            finally:
                switch("on")
            spans.take()
            cpu[variant].append(seconds / args.events * 1e6)
            return rate

        measures = {variant: (lambda variant=variant: turn(variant)) for variant in VARIANTS}
        runs = take_turns(measures, args.rounds, f"{workload}, tracing parts")
        title = f"Tracing parts: {TITLES[workload]}, {label}"
        ratios = [
            Ratio(f"{variant} / untraced, time per event", "untraced", variant)
            for variant in VARIANTS[:-1]
        ]
        sections[workload] = report(
            title, {v: v for v in VARIANTS}, runs, ratios, units_per_turn=args.events
        )
        median = {variant: statistics.median(values) for variant, values in cpu.items()}
        sections[workload]["cpu_us_per_event"] = {k: round(v, 1) for k, v in median.items()}
        sections[workload]["cpu_us_per_event_over_untraced"] = {
            variant: round(median[variant] - median["untraced"], 1) for variant in VARIANTS[:-1]
        }
        over = sections[workload]["cpu_us_per_event_over_untraced"]
        print(f"  {workload}: CPU us per event over untraced: {over}\n", flush=True)
    return {
        "question": "what each part of the consumer's tracing costs, in one traced process",
        "rounds": args.rounds,
        "exporter": "an exporter to nowhere (counting, dropping) behind a BatchSpanProcessor",
        "servers": {"rabbitmq": rabbit.endpoint.source, "redis": redis_server.endpoint.source},
        **sections,
    }


if __name__ == "__main__":
    main()
