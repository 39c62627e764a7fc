"""Turn tracing on for this process from the standard OTEL_* environment; off unless asked.

    OTEL_TRACES_EXPORTER=otlp       OTLP over HTTP (OTEL_EXPORTER_OTLP_ENDPOINT, ...: the SDK's)
    OTEL_TRACES_EXPORTER=console    one JSON document a span on stdout
    OTEL_TRACES_EXPORTER=jsonfile   one JSON line a span appended to INTERLINK_TRACES_FILE
                                    ("{pid}" in it becomes the process id): tests read these
    unset, "none", or OTEL_SDK_DISABLED=true: no SDK, no exporter thread; the API's no-op tracer

OTEL_SERVICE_NAME names the process (default: the name the entry point passes). The maintained
instrumentations of Django, requests, psycopg and redis are installed along with the SDK, but
those named in OTEL_PYTHON_DISABLED_INSTRUMENTATIONS (a comma list: django, requests, psycopg,
redis, or "*" for all; other names are ignored, as `opentelemetry-instrument` ignores them).
Spans still buffered are exported at exit (the SDK's own atexit hook), so a process stopped
with SIGTERM flushes them; the file exporter writes each span as it ends.
"""

from __future__ import annotations

import os
import threading
from typing import IO, TYPE_CHECKING

from opentelemetry import trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

EXPORTER_ENV = "OTEL_TRACES_EXPORTER"
FILE_ENV = "INTERLINK_TRACES_FILE"
EXPORTERS = ("otlp", "console", "jsonfile", "none")
DISABLED_ENV = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"
# Our instrumentations by the names of their entry points (what DISABLED_ENV lists).
INSTRUMENTATIONS = ("django", "requests", "psycopg", "redis")

_lock = threading.Lock()
_provider: TracerProvider | None = None  # the SDK's, once set up


def exporter_name() -> str:
    """The exporter the environment asks for ("none" when tracing is off)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return "none"
    return os.environ.get(EXPORTER_ENV, "").strip().lower() or "none"


def tracing_setup(*, service_name: str = "django", instrument: bool = True) -> bool:
    """Configure the SDK once for this process if the environment asks for it; True if on.

    Raises ValueError naming the variable when the exporter is unknown or lacks its file.
    """
    global _provider
    with _lock:
        if _provider is not None:
            return True
        name = exporter_name()
        if name == "none":
            return False
        # The SDK is imported only now: a process with tracing off loads the API alone.
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider

        processor = _processor(name)
        service = os.environ.get("OTEL_SERVICE_NAME") or service_name
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
        provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        _provider = provider
    if instrument:
        _instrument()
    return True


def _processor(name: str) -> SpanProcessor:
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    if name == "otlp":
        # Loaded only when asked for: it brings protobuf and an HTTP session.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return BatchSpanProcessor(OTLPSpanExporter())
    if name == "console":
        return BatchSpanProcessor(ConsoleSpanExporter())
    if name == "jsonfile":
        path = os.environ.get(FILE_ENV, "")
        if not path:
            raise ValueError(f"tracing setup: {EXPORTER_ENV}=jsonfile needs {FILE_ENV} (a path)")
        return SimpleSpanProcessor(
            ConsoleSpanExporter(
                out=_append(path.replace("{pid}", str(os.getpid()))), formatter=_line
            )
        )
    raise ValueError(f"tracing setup: {EXPORTER_ENV}={name!r} is not one of {', '.join(EXPORTERS)}")


def _append(path: str) -> IO[str]:
    # Line-buffered: each span is on disk once it ends, for a reader in another process.
    return open(path, "a", buffering=1, encoding="utf-8")


def _line(span: ReadableSpan) -> str:
    return str(span.to_json(indent=None)) + "\n"


def disabled_instrumentations() -> frozenset[str]:
    """The instrumentations OTEL_PYTHON_DISABLED_INSTRUMENTATIONS turns off ("*": all)."""
    names = {name.strip() for name in os.environ.get(DISABLED_ENV, "").split(",")}
    return frozenset(INSTRUMENTATIONS) if "*" in names else frozenset(names) & set(INSTRUMENTATIONS)


def _instrument() -> None:
    """The maintained instrumentations: server spans for Django, client spans for requests,
    psycopg and redis, each a child of the span current when the call is made; each can be
    turned off (disabled_instrumentations). Imported here so a process with tracing off never
    loads them."""
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    disabled = disabled_instrumentations()
    for name, instrumentor in (
        ("django", DjangoInstrumentor()),
        ("requests", RequestsInstrumentor()),
        ("psycopg", PsycopgInstrumentor()),
        ("redis", RedisInstrumentor()),
    ):
        if name not in disabled and not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()
