"""The OTLP bridge: the Prometheus counters read through OpenTelemetry's SDK (in memory)."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from django_interlink.metrics import instruments
from django_interlink.metrics.otlp import otlp_requested, start_otlp_export


def _points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    return {
        metric.name: list(metric.data.data_points)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }


def test_counters_and_histograms_reach_the_otlp_reader_with_their_labels():
    """A relay outcome and a saga step counted in Prometheus show up as OpenTelemetry points
    with the same labels and values."""
    reader = InMemoryMetricReader()
    provider = start_otlp_export(reader)
    assert provider is not None
    try:
        instruments.relay_outcomes([("otlp.test", "sent"), ("otlp.test", "sent")])
        instruments.saga_step("otlp_saga", "charge", "action", "succeeded", 0.25)
        points = _points(reader)
    finally:
        provider.shutdown()
    (sent,) = [
        p
        for p in points["interlink_relay_events_total"]
        if dict(p.attributes) == {"event_type": "otlp.test", "outcome": "sent"}
    ]
    assert sent.value == 2
    step = {"saga": "otlp_saga", "step": "charge", "direction": "action", "outcome": "succeeded"}
    (count,) = [
        p
        for p in points["interlink_saga_step_duration_seconds_count"]
        if dict(p.attributes) == step
    ]
    (total,) = [
        p for p in points["interlink_saga_step_duration_seconds_sum"] if dict(p.attributes) == step
    ]
    assert (count.value, total.value) == (1, 0.25)
    assert not any(name.startswith("process_") for name in points)


@pytest.mark.parametrize(
    ("value", "requested"),
    [("", False), ("none", False), ("otlp", True), ("console, OTLP", True), ("prometheus", False)],
)
def test_otlp_is_exported_only_when_the_environment_asks(monkeypatch, value, requested):
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", value)
    assert otlp_requested() is requested
    if not requested:
        assert start_otlp_export() is None
