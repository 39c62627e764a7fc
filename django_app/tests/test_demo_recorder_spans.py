"""The recorder draws a scene's calls from its trace's client spans and falls back on the
stubs' request logs only for a request no exported span sent; requests of another trace are not
the scene's. The stubs are the session's, on real sockets."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
import requests
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from mock_services.inventory.store import WIDGET_ID
from mock_services.testing import StubServer
from project.demo.recorder import Recorder

pytestmark = pytest.mark.django_db


def _get(stub: StubServer, token: str, traceparent: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "req-scene"}
    if traceparent:
        headers["traceparent"] = traceparent
    response = requests.get(f"{stub.url}/products/{WIDGET_ID}", headers=headers, timeout=5)
    assert response.status_code == 200


def test_calls_come_from_client_spans_and_the_stub_log_fills_only_what_no_span_sent(
    reset_stubs: dict[str, StubServer], stub_token: str
):
    inventory = reset_stubs["inventory"]
    recorder = Recorder(reset_stubs, stack="embedded")
    recorder.begin(1, "a scene", "", "req-scene")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    url = f"{inventory.url}/products/{WIDGET_ID}"
    with tracer.start_as_current_span("demo scene") as scene:
        context = scene.get_span_context()
        trace_id = f"{context.trace_id:032x}"
        with tracer.start_as_current_span(
            "GET",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": "GET", "url.full": url},
        ) as call:
            call_id = f"{call.get_span_context().span_id:016x}"
            _get(inventory, stub_token, f"00-{trace_id}-{call_id}-01")
            call.set_attribute("http.response.status_code", 200)
    _get(inventory, stub_token, None)  # no traceparent: only the stub saw it
    _get(inventory, stub_token, f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01")
    spans: list[dict[str, Any]] = [
        json.loads(span.to_json(indent=None)) for span in exporter.get_finished_spans()
    ]
    recording = recorder.end(error=None, lines=[], trace_id=trace_id, spans=spans)
    http = [i for i in recording["interactions"] if i["kind"] == "http"]
    assert [(i["target"], i["method"], i["status"]) for i in http] == [
        ("inventory", "GET", 200),
        ("inventory", "GET", 200),
    ]
    # The first from its span, with what the stub recorded of it; the second from the log.
    assert http[0]["t_ms"] < http[1]["t_ms"]
    assert [i["request_id"] for i in http] == ["req-scene", "req-scene"]
    assert [bar["name"] for bar in recording.get("trace", [])] == [
        "demo scene",
        f"GET inventory /products/{WIDGET_ID}",
    ]
    assert recording.get("trace_id") == trace_id
