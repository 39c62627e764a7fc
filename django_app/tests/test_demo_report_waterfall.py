"""The report's pictures drawn from spans: a trace made with the OpenTelemetry SDK (its own
provider, exported to memory, written out as `ReadableSpan.to_json()` as the real stack's
files hold it) becomes the waterfall's bars and the sequence diagram's calls and events."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from project.demo.report.model import TraceSpan
from project.demo.report.spans import StubAnswer, span_interactions, trace_spans
from project.demo.report.textwidth import text_width
from project.demo.report.waterfall import EMPTY, render_waterfall_svg

PEERS = {"127.0.0.1:8001": "payments"}
SAGA = "saga order_processing"


def exported() -> tuple[list[dict[str, Any]], float]:
    """One scene's trace: the scene, a saga run and its step, the step's call to payments (the
    stub's server span under it), a database query, FastAPI's own span, the relay's publish
    (confirmed) and a refused one, a handler's process span twice (a redelivery)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: "django"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("demo scene") as scene:
        started = scene.start_time / 1e9 if scene.start_time else 0.0  # type: ignore[attr-defined]
        with (
            tracer.start_as_current_span(SAGA),
            tracer.start_as_current_span(
                f"{SAGA} step process_payment", attributes={"django_interlink.saga.attempt": 1}
            ),
        ):
            with (
                tracer.start_as_current_span(
                    "POST",
                    kind=SpanKind.CLIENT,
                    attributes={
                        "http.request.method": "POST",
                        "url.full": "http://127.0.0.1:8001/payments",
                        "http.response.status_code": 201,
                    },
                ),
                tracer.start_as_current_span("POST /payments", kind=SpanKind.SERVER),
            ):
                tracer.start_span("fastapi.endpoint").end()
            with tracer.start_as_current_span(
                "SELECT", kind=SpanKind.CLIENT, attributes={"db.system": "postgresql"}
            ):
                pass
        for outcome in ("confirmed", "refused"):
            publish = tracer.start_span(
                "publish payment.processed",
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.destination.name": "payment.processed",
                    "messaging.message.id": "0f16adb4-0000-4000-8000-000000000000",
                    "django_interlink.outcome": outcome,
                },
            )
            if outcome == "refused":
                publish.set_status(Status(StatusCode.ERROR, "broker said no"))
            publish.end()
        for _ in range(2):
            with tracer.start_as_current_span(
                "process payment.processed",
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.destination.name": "payment.processed",
                    "messaging.message.id": "0f16adb4-0000-4000-8000-000000000000",
                    "django_interlink.handlers": ["payments.receipt"],
                },
            ):
                pass
    spans = [json.loads(span.to_json(indent=None)) for span in exporter.get_finished_spans()]
    return spans, started


def test_the_waterfall_draws_each_span_of_the_trace_under_its_parent():
    """Bars in tree order, indented by depth: the scene, the saga run, its step, the call named
    by its peer and path with the stub's server span under it, the publishes (the refused one
    marked failed) and the handling; the database's and FastAPI's own spans left out."""
    spans, started = exported()
    bars = trace_spans(spans, started=started, peers=PEERS)
    svg = render_waterfall_svg(bars, title="trace")
    names = re.findall(r'<g class="span ([a-z ]+)" data-name="([^"]+)"', svg)
    assert names == [
        ("internal", "demo scene"),
        ("internal", SAGA),
        ("internal", f"{SAGA} step process_payment"),
        ("client", "POST payments /payments"),
        ("server", "payments handles POST /payments"),
        ("producer", "publish payment.processed"),
        ("producer error", "publish payment.processed"),
        ("consumer", "process payment.processed"),
        ("consumer", "process payment.processed"),
    ]
    depths = [int(x) for x in re.findall(r'<text x="(\d+)" y="\d+" font-size="11.0"', svg)]
    assert depths == [8, 22, 36, 50, 64, 22, 22, 22, 22]
    step = next(bar for bar in bars if bar["name"].endswith("process_payment"))
    call = next(bar for bar in bars if bar["kind"] == "client")
    assert call["parent_id"] == step["span_id"]
    assert call["detail"] == "201"
    assert step["start_ms"] <= call["start_ms"] <= call["end_ms"] <= step["end_ms"]


def test_no_text_of_the_waterfall_passes_its_bars_or_its_edge():
    """Each name ends before the bars begin, each duration before the drawing's right edge."""
    spans, started = exported()
    svg = render_waterfall_svg(trace_spans(spans, started=started, peers=PEERS), title="t")
    width = float(re.search(r'width="(\d+)"', svg).group(1))  # type: ignore[union-attr]
    bars = [
        float(x) for x in re.findall(r'<rect x="([\d.]+)" y="\d+" width="[\d.]+" height="12"', svg)
    ]
    names = re.findall(r'<text x="(\d+)" y="\d+" font-size="11.0" fill="#1b2631">([^<]+)<', svg)
    durations = re.findall(
        r'<text x="([\d.]+)" y="\d+" font-size="9.5" fill="#566573">([^<]+ ms)<', svg
    )
    assert len(names) == len(durations) == len(bars) == 9
    assert max(float(x) + text_width(html.unescape(t), 11.0) for x, t in names) < min(bars)
    assert max(float(x) + text_width(t, 9.5) for x, t in durations) <= width


def test_without_spans_the_waterfall_says_so_and_no_call_is_drawn():
    """No span, no bar and no arrow: the pictures come from the spans alone."""
    assert trace_spans([], started=0.0, peers=PEERS) == []
    assert EMPTY in render_waterfall_svg([], title="trace")
    assert span_interactions([], started=0.0, peers=PEERS, answers={}, request_id="r") == []


def test_the_sequence_is_drawn_from_client_publish_and_process_spans():
    """A client span is one arrow per attempt its stub recorded (the stub's status, key and
    replay), or one from the span alone; a confirmed publish is a relay (a refused one is
    not); a redelivered message's second process span is not drawn again."""
    spans, started = exported()
    call = next(s for s in spans if s["kind"] == "SpanKind.CLIENT" and s["name"] == "POST")
    span_id = call["context"]["span_id"].removeprefix("0x")
    attempts = [
        StubAnswer(5.0, None, "req-1", "order-1:process_payment", False, None),
        StubAnswer(9.0, 201, "req-1", "order-1:process_payment", True, 1.5),
    ]
    drawn = span_interactions(
        spans, started=started, peers=PEERS, answers={span_id: attempts}, request_id="req-1"
    )
    http = [
        (i["target"], i["path"], i["status"], i["replayed"]) for i in drawn if i["kind"] == "http"
    ]
    assert http == [("payments", "/payments", None, False), ("payments", "/payments", 201, True)]
    events = [
        (i["source"], i["target"], i["action"], i["detail"]) for i in drawn if i["kind"] == "event"
    ]
    assert events == [
        ("outbox", "bus", "relayed", ""),
        ("bus", "inbox", "consumed", "payments.receipt"),
    ]
    alone = span_interactions(spans, started=started, peers=PEERS, answers={}, request_id="req-1")
    assert [(i["status"], i["request_id"]) for i in alone if i["kind"] == "http"] == [
        (201, "req-1")
    ]


def test_a_span_another_process_made_names_that_process():
    """Where the trace crosses into another process (a worker, a consumer), the label says
    which; a child of the same process does not repeat it."""

    def bar(span_id: str, parent: str | None, service: str) -> TraceSpan:
        return TraceSpan(
            span_id=span_id,
            parent_id=parent,
            name=f"span {span_id}",
            kind="internal",
            service=service,
            start_ms=float(len(span_id)),
            end_ms=10.0,
            error=False,
            detail="",
        )

    svg = render_waterfall_svg(
        [
            bar("a", None, "django"),
            bar("bb", "a", "resume_sagas"),
            bar("ccc", "bb", "resume_sagas"),
        ],
        title="t",
    )
    labels = re.findall(r'font-size="11.0" fill="#1b2631">([^<]+)<', svg)
    assert labels == ["span a", "span bb · in resume_sagas", "span ccc"]
