"""The selected saga's trace, for the page's waterfall: every playground process (the server
with its relay and consumer threads, each saga worker) exports its spans as JSON lines
(OTEL_TRACES_EXPORTER=jsonfile) into TRACES in the playground's folder, the collector the page
reads; the saga row holds the `traceparent` of the request that placed the order, whose trace
the run, its steps, their calls, the publishes and the handling all join.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django_interlink.conf import ms_settings
from django_interlink.models import SagaExecution
from project.demo.report.spans import trace_spans
from project.demo.report.waterfall import render_waterfall_svg

from .files import TRACES

SERVICES = ("users", "inventory", "payments", "orders")


def trace_id_of(execution: SagaExecution) -> str:
    """The saga's trace id (32 hex digits), or "" when it was started with tracing off."""
    parts = str((execution.trace_context or {}).get("traceparent", "")).split("-")
    return parts[1] if len(parts) == 4 else ""


def read_trace(folder: Path, trace_id: str) -> list[dict[str, Any]]:
    """Every span of the trace the processes have exported so far (a line being written is
    skipped: the next poll reads it)."""
    wanted = f"0x{trace_id}"
    found = []
    for path in sorted((folder / TRACES).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if wanted not in line:
                continue
            try:
                span = json.loads(line)
            except ValueError:
                continue
            if span["context"]["trace_id"] == wanted:
                found.append(span)
    return found


def _peers() -> dict[str, str]:
    """The stubs by host:port, to name the service each client span called."""
    return {urlsplit(str(ms_settings.service(name)["BASE_URL"])).netloc: name for name in SERVICES}


def trace_feed(execution: SagaExecution, folder: Path) -> dict[str, Any]:
    """The trace's spans as the waterfall's bars (times since the trace's first span) and
    the waterfall drawn by the demo report's drawer."""
    trace_id = trace_id_of(execution)
    spans = read_trace(folder, trace_id) if trace_id else []
    starts = [span["start_time"] for span in spans]
    origin = _epoch(min(starts)) if starts else 0.0
    bars = trace_spans(spans, started=origin, peers=_peers())
    title = f"trace of saga {execution.saga_id}"
    return {
        "trace_id": trace_id,
        "spans": bars,
        "svg": render_waterfall_svg(bars, title=title) if bars else "",
    }


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()
