"""OpenTelemetry traces: turned on from the OTEL_* environment (setup.py), carried in dicts of
W3C `traceparent`/`tracestate` (propagation.py). Off, every helper here is the API's no-op."""

from .propagation import (
    REQUEST_ID_ATTRIBUTE,
    capture,
    carrier_of,
    current_traceparent,
    linked,
    record_request_id,
    restore,
    tracer,
    tracing_on,
)
from .setup import EXPORTER_ENV, FILE_ENV, exporter_name, tracing_setup

__all__ = [
    "EXPORTER_ENV",
    "FILE_ENV",
    "REQUEST_ID_ATTRIBUTE",
    "capture",
    "carrier_of",
    "current_traceparent",
    "exporter_name",
    "linked",
    "record_request_id",
    "restore",
    "tracer",
    "tracing_on",
    "tracing_setup",
]
