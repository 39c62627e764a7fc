"""One long-lived process of bench_tracing.py, tracing on or off for its whole life, running the
bench's workloads when asked and answering with the rate and the spans they produced.

    python -m bench.tracing_worker off|on|sampled|lean   (started by bench/bench_tracing.py)

It reads one request a line on stdin (`saga 100`, `rabbitmq 2000`, `rabbitmq_window 2000`,
`redis 2000`, `redis_window 2000`, `quit`) and writes one JSON line a request on stdout:
`{"per_second": ..., "units": ..., "spans": ..., "cpu": ...}` (`cpu`: this process's CPU
seconds while the clock ran). Everything else it prints goes to stderr.

"on" is the SDK's TracerProvider with a BatchSpanProcessor (the real setup's processor) in front
of an exporter to nowhere that counts what it is handed (`Counting`), plus the instrumentations
the real setup installs (Django, requests, psycopg, redis). "off" is what the real setup leaves
when tracing is off: no SDK, the API's no-op tracer, nothing instrumented. Two variants of "on",
for the consumer only, show what a user can trade: "sampled" adds the sampler
`parentbased_traceidratio` at 0.1, its messages carrying a random trace each, flagged sampled as
that sampler upstream would flag it (one in ten); "lean" turns the psycopg and redis
instrumentations off (OTEL_PYTHON_DISABLED_INSTRUMENTATIONS), so only our own spans remain.

The spans of each request are flushed and counted after its clock stops, so a run never
measures nothing unnoticed. The exporter keeps none of them: a real one sends each batch and
forgets it, where the SDK's InMemorySpanExporter would keep a turn's thousands of spans alive
for the collector to walk, a cost of the bench, not of tracing (about 5 us a message, measured).
Once a consumer is set up, the worker freezes its heap, as `manage.py consume_events` does
before its loop (django_interlink/management/heap.py).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "django_app"), str(REPO)]

from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.resources import SERVICE_NAME, Resource  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import (  # noqa: E402
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import (  # noqa: E402
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)

from bench.raw_inbox import EVENT_TYPE, HANDLER  # noqa: E402
from bench.support import Database, durability, setup_django, unique_name  # noqa: E402

# The real setup's instrumentations, exactly: its public entry point picks the exporter from
# the environment, and none of its exporters is the counting one this bench needs.
from django_interlink.management.heap import freeze_startup_heap  # noqa: E402
from django_interlink.tracing.setup import DISABLED_ENV, _instrument  # noqa: E402

MODES = ("off", "on")
VARIANTS = ("sampled", "lean")  # of "on", for the consumer workloads
RATIO = 0.1  # the sampled variant's
CONSUMERS = ("rabbitmq", "rabbitmq_window", "redis", "redis_window")
WINDOW = 50
# The trace context every bench message carries, as the relay sends it with tracing on in the
# publisher; both modes consume the same messages, so only the consumer's tracing differs.
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Counting(SpanExporter):
    """An exporter to nowhere: it counts the spans it is handed and drops them, as OTLP to a
    collector forgets each batch once sent (without the encoding and the network)."""

    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS


@dataclasses.dataclass
class Spans:
    """The spans a worker produced: none at all when off (no SDK to hand them to)."""

    exporter: Counting | None = None
    processor: BatchSpanProcessor | None = None

    def take(self) -> int:
        """Flush the batch processor; how many spans reached the exporter since the last take."""
        if self.exporter is None or self.processor is None:
            return 0
        self.processor.force_flush()
        count, self.exporter.count = self.exporter.count, 0
        return count


def tracing_on(sampler: Sampler | None = None) -> Spans:
    """The SDK with a batch processor and the counting exporter, and the real instrumentations
    (but those DISABLED_ENV names)."""
    exporter = Counting()
    processor = BatchSpanProcessor(exporter)
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: "bench-tracing"}), sampler=sampler
    )
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    _instrument()
    return Spans(exporter, processor)


# n units -> (units per second, this process's CPU seconds while the clock ran)
Workload = Callable[[int], tuple[float, float]]


def saga_workload() -> Workload:
    """One OrderProcessingSaga after another, end to end on the stubs (bench_saga.py's saga)."""
    from shop.clients.inventory import InventoryServiceClient
    from shop.clients.users import UserServiceClient
    from shop.order_processing import process_order_request

    inventory, prefix = InventoryServiceClient(), unique_name("trace-")
    user_id = UserServiceClient().create_user(email=f"{prefix}@example.com", name="Bench")["id"]
    items = [
        {
            "product_id": inventory.create_product(
                sku=f"{prefix}-{sku}".upper(), name=sku, on_hand=1_000_000, unit_price=price
            )["id"],
            "quantity": quantity,
        }
        for sku, price, quantity in (("a", 1250, 2), ("b", 4999, 1))
    ]
    serial = iter(range(10**9))

    def run(n: int) -> tuple[float, float]:
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            saga_id = f"{prefix}-{next(serial)}"
            result = process_order_request(user_id, items, "tok_visa", saga_id=saga_id)
            if result.status != "completed":
                raise RuntimeError(f"saga {saga_id} ended {result.status}: {result.error}")
        return n / (time.perf_counter() - started), time.process_time() - cpu

    return run


def sampled_traceparent() -> dict[str, str]:
    """A new trace's context, flagged sampled as TraceIdRatioBased(RATIO) decides for it."""
    trace_id = random.getrandbits(128) or 1
    sampler = TraceIdRatioBased(RATIO)
    sampled = (trace_id & sampler.TRACE_ID_LIMIT) < sampler.bound
    span_id = random.getrandbits(64) or 1
    return {"traceparent": f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}"}


def consume_workload(
    broker: str, *, window: int | None, contexts: Callable[[], dict[str, str]]
) -> Workload:
    """Our consumer (bench_consume.py's "ours": validation, inbox row, no-op handler) draining n
    events published before its clock starts, each carrying the trace context `contexts()`."""
    from django_interlink.events.backends import bus_settings
    from django_interlink.events.bus import EventBus
    from django_interlink.events.envelope import Envelope
    from django_interlink.events.handlers import HandlerRegistry
    from django_interlink.events.rabbitmq.bus import RabbitMQBus
    from django_interlink.events.redis.streams import RedisStreamsBus
    from django_interlink.models import InboxEvent
    from shop.event_samples import sample_data

    name = unique_name(f"benchtrace{broker[:5]}")
    options: dict[str, Any] = {"consume_window": window} if window else {}
    bus: EventBus
    if broker == "rabbitmq":
        bus = RabbitMQBus.from_config(
            bus_settings(
                rabbitmq_url=os.environ["RABBITMQ_URL"],
                rabbitmq_exchange=name,
                rabbitmq_prefetch=2 * (window or WINDOW),
                **options,
            )
        )
    else:
        bus = RedisStreamsBus.from_config(
            bus_settings(redis_url=os.environ["REDIS_URL"], redis_stream_prefix=name, **options)
        )
    bus.declare([EVENT_TYPE], group=name)
    registry = HandlerRegistry()
    registry.add(EVENT_TYPE, lambda envelope: None, name=HANDLER)

    def run(n: int) -> tuple[float, float]:
        batch = [
            dataclasses.replace(Envelope.new(EVENT_TYPE, sample_data(EVENT_TYPE)), trace=contexts())
            for _ in range(n)
        ]
        for i in range(0, n, 100):
            bus.publish_many(batch[i : i + 100])
        # Only their ids (strings, which the collector does not track) stay alive while the
        # consumer runs: n envelopes held would be garbage the consumer's collections traverse,
        # a cost no real consumer pays, and more of it the more often it collects.
        ids = [envelope.event_id for envelope in batch]
        del batch
        started, cpu = time.perf_counter(), time.process_time()
        settled = bus.consume(registry=registry, group=name, max_messages=n, idle_timeout=10)
        per_second, cpu = n / (time.perf_counter() - started), time.process_time() - cpu
        if settled != n or InboxEvent.objects.filter(event_id__in=ids).count() != n:
            raise RuntimeError(f"{broker}: {settled} of {n} events settled with their inbox row")
        return per_second, cpu

    return run


def serve(mode: str, requests: TextIO, replies: TextIO) -> None:
    """Set this process up in `mode`, then answer requests until `quit` or end of input."""
    if mode not in (*MODES, *VARIANTS):
        known = ", ".join((*MODES, *VARIANTS))
        raise ValueError(f"tracing worker: mode {mode!r} is not one of {known}")
    if mode == "lean":
        os.environ[DISABLED_ENV] = "psycopg,redis"
    sampler = ParentBased(TraceIdRatioBased(RATIO)) if mode == "sampled" else None
    spans = Spans() if mode == "off" else tracing_on(sampler)
    traced = {"traceparent": TRACEPARENT}
    contexts = sampled_traceparent if mode == "sampled" else traced.copy
    url = os.environ["DATABASE_URL"]
    setup_django("project.settings.base", Database("tests", url, durability(url)))
    workloads: dict[str, Workload] = {}
    for line in requests:
        what, _, count = line.strip().partition(" ")
        if what == "quit":
            break
        if what not in workloads:
            if what == "saga":
                workloads[what] = saga_workload()
            elif what in CONSUMERS:
                broker, _, windowed = what.partition("_")
                workloads[what] = consume_workload(
                    broker, window=WINDOW if windowed else None, contexts=contexts
                )
                freeze_startup_heap()  # as manage.py consume_events does before its loop
            else:
                raise ValueError(f"tracing worker: unknown workload {what!r}")
        spans.take()  # what setting up and filling produced is not the workload's
        per_second, cpu = workloads[what](int(count))
        answer = {"per_second": per_second, "units": int(count), "spans": spans.take(), "cpu": cpu}
        replies.write(json.dumps(answer) + "\n")
        replies.flush()


def main() -> None:
    replies, sys.stdout = sys.stdout, sys.stderr
    serve(sys.argv[1] if len(sys.argv) > 1 else "", sys.stdin, replies)


if __name__ == "__main__":
    main()
