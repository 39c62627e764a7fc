"""The demo's traces: each scene runs inside a span of its own, so every call, saga step and
event it causes is one trace; the scene's recording is drawn from that trace's spans.

This process exports to memory (an InMemorySpanExporter behind a SimpleSpanProcessor: each span
is there once it ends). On the real stack the relay, consumer and saga workers are processes of
their own: each exports with OTEL_TRACES_EXPORTER=jsonfile, one JSON line a span, to a file in a
directory this process owns; that directory is the demo's collector, read at the end of each
scene. Either way a span is the dict `ReadableSpan.to_json()` writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from django_interlink.tracing import EXPORTER_ENV, FILE_ENV, tracer

SpanDict = dict[str, Any]
#: The span each scene runs in; its trace id is the scene's.
SCENE_SPAN = "demo scene"
SCENE_ATTRIBUTE = "demo.scene"


class SceneTraces:
    """Tracing for the demo's process, set up once; the spans of one trace on request."""

    def __init__(self, directory: Path | None = None) -> None:
        self.exporter = InMemorySpanExporter()
        self.directory = directory
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: "django"}))
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        trace.set_tracer_provider(provider)
        self.provider = provider
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        # The clients' calls become client spans (the demo serves no request: no Django spans).
        from opentelemetry.instrumentation.requests import RequestsInstrumentor

        instrumentor = RequestsInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()

    def environment(self) -> dict[str, str]:
        """What a process of the real stack needs to export into the collector's directory."""
        if self.directory is None:
            return {}
        return {
            EXPORTER_ENV: "jsonfile",
            FILE_ENV: str(self.directory / "spans-{pid}.jsonl"),
        }

    @contextmanager
    def scene(self, number: int, title: str) -> Iterator[str]:
        """Run a scene in its own span; yields its trace id (32 hex digits)."""
        with tracer().start_as_current_span(
            SCENE_SPAN, attributes={SCENE_ATTRIBUTE: f"{number}. {title}"}
        ) as span:
            yield f"{span.get_span_context().trace_id:032x}"

    def spans_of(self, trace_id: str) -> list[SpanDict]:
        """Every span of the trace ended so far, in this process and in the collector's files."""
        wanted = f"0x{trace_id}"
        found = [
            json.loads(span.to_json(indent=None))
            for span in self.exporter.get_finished_spans()
            if span.context is not None and f"0x{span.context.trace_id:032x}" == wanted
        ]
        if self.directory is not None:
            for path in sorted(self.directory.glob("*.jsonl")):
                for line in path.read_text(encoding="utf-8").splitlines():
                    if wanted not in line:
                        continue
                    try:
                        span = json.loads(line)
                    except ValueError:  # the line a process is writing now
                        continue
                    if span["context"]["trace_id"] == wanted:
                        found.append(span)
        return found

    def close(self) -> None:
        self.provider.shutdown()
