"""Server spans for the stubs run as a program (`python -m mock_services`), when asked.

The stubs know nothing of Django or its app, so they read the same environment on their own:
OTEL_TRACES_EXPORTER=otlp (OTEL_EXPORTER_OTLP_*) or console turns the SDK on. FastAPI (0.165
and later) traces itself through the global provider: each request a server span, the child of
the caller's `traceparent`, with its dependencies, endpoint and serialization inside; the
opentelemetry-instrumentation-fastapi middleware would only replace those spans (FastAPI steps
aside when it finds it), so it is not added. Unset, "none" or OTEL_SDK_DISABLED=true: nothing is
set up. Stubs started by tests in their own process record each request's `traceparent`
instead (request_log.py).
"""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

EXPORTERS = ("otlp", "console", "none")


def exporter_name() -> str:
    """The exporter the environment asks for ("none" when tracing is off)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return "none"
    return os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() or "none"


def tracing_setup(service_name: str = "stubs") -> bool:
    """Configure the SDK for this process if the environment asks; True if on. Raises
    ValueError naming the variable for an exporter the stubs do not know."""
    name = exporter_name()
    if name == "none":
        return False
    exporter: SpanExporter
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    elif name == "console":
        exporter = ConsoleSpanExporter()
    else:
        raise ValueError(
            f"stub tracing: OTEL_TRACES_EXPORTER={name!r} is not one of {', '.join(EXPORTERS)}"
        )
    service = os.environ.get("OTEL_SERVICE_NAME") or service_name
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return True
