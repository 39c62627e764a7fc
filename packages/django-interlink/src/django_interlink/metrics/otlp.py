"""The same counters through OTLP, when OTEL_METRICS_EXPORTER names "otlp".

One source of truth: `bridge()` registers an observable OpenTelemetry instrument per
`interlink_*` family of `instruments.REGISTRY`, each reading the Prometheus registry when
the SDK collects (a counter as an observable counter, a gauge as an observable gauge, a histogram
as its `_count` and `_sum` counters: OpenTelemetry has no observable histogram). The endpoint,
headers and interval come from the standard OTEL_EXPORTER_OTLP_* variables, read by the
exporter. The database's and broker's state (state.py) stays with Prometheus: it is read per
scrape, not pushed from every process.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from .instruments import REGISTRY

__all__ = ["bridge", "otlp_requested", "start_otlp_export"]

PREFIX = "interlink_"
# The SDK calls every instrument's callback in one collection: they share one read of the
# registry made at most this long ago (seconds).
SNAPSHOT_SECONDS = 1.0


def otlp_requested() -> bool:
    """Whether OTEL_METRICS_EXPORTER (comma-separated, as the SDK reads it) names otlp."""
    names = os.environ.get("OTEL_METRICS_EXPORTER", "")
    return "otlp" in {name.strip().lower() for name in names.split(",")}


class _Snapshot:
    def __init__(self, source: Collector) -> None:
        self.source = source
        self._lock = threading.Lock()
        self._taken = float("-inf")
        self._families: dict[str, Metric] = {}

    def family(self, name: str) -> Metric | None:
        with self._lock:
            if time.monotonic() - self._taken > SNAPSHOT_SECONDS:
                self._families = {f.name: f for f in self.source.collect()}
                self._taken = time.monotonic()
            return self._families.get(name)


def _observe(
    snapshot: _Snapshot, family: str, sample: str
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(options: CallbackOptions) -> Iterable[Observation]:
        found = snapshot.family(family)
        if found is None:
            return []
        return [Observation(s.value, dict(s.labels)) for s in found.samples if s.name == sample]

    return callback


def bridge(provider: MeterProvider, source: Collector = REGISTRY) -> None:
    """Observe every `interlink_*` family of `source` through `provider`'s meter."""
    meter = provider.get_meter("django_interlink")
    snapshot = _Snapshot(source)
    for family in source.collect():
        if not family.name.startswith(PREFIX):
            continue
        if family.type == "counter":
            meter.create_observable_counter(
                f"{family.name}_total",
                [_observe(snapshot, family.name, f"{family.name}_total")],
                description=family.documentation,
            )
        elif family.type == "gauge":
            meter.create_observable_gauge(
                family.name,
                [_observe(snapshot, family.name, family.name)],
                description=family.documentation,
            )
        elif family.type == "histogram":
            for part in ("count", "sum"):
                meter.create_observable_counter(
                    f"{family.name}_{part}",
                    [_observe(snapshot, family.name, f"{family.name}_{part}")],
                    description=f"{family.documentation} ({part})",
                )


def start_otlp_export(reader: MetricReader | None = None) -> MeterProvider | None:
    """A MeterProvider exporting the bridged counters, if OTEL_METRICS_EXPORTER asks for otlp
    (or a `reader` is given); None otherwise. The caller shuts it down."""
    if reader is None:
        if not otlp_requested():
            return None
        reader = PeriodicExportingMetricReader(OTLPMetricExporter())
    provider = MeterProvider(metric_readers=[reader])
    bridge(provider)
    return provider
