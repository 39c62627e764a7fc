"""The trace context as a plain dict, to store with a row or carry in a message's headers.

`capture()` is what `propagate.inject` writes for the current span (W3C `traceparent` and, when
set, `tracestate`): an empty dict when no SDK is configured, so nothing is stored or sent then.
`restore()` turns such a dict (or a message's headers, bytes keys and values included) back
into a Context to start spans under.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context

from ..request_id import current_request_id

TRACER_NAME = "django_interlink"
# The request id (X-Request-ID, the events' correlation id) on the spans it belongs to.
REQUEST_ID_ATTRIBUTE = "django_interlink.request_id"
# The keys of the W3C Trace Context that travel with a row or a message.
KEYS = ("traceparent", "tracestate")
_KEYS = tuple((key, key.encode()) for key in KEYS)  # Redis gives bytes
_EMPTY = Context()
# A W3C traceparent of version 00: version, trace id, parent span id, flags.
_VERSION_00 = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


_current: tuple[trace.TracerProvider, trace.Tracer] | None = None


def tracer() -> trace.Tracer:
    """The app's tracer: the API's no-op one until an SDK is configured (setup.py).

    Kept for the provider it came from: the SDK's get_tracer() resets a warnings filter and
    builds two scope objects on every call before it finds its cached tracer, a cost every span
    would pay; a provider installed later (or by a test) gets a tracer of its own.
    """
    global _current
    provider = trace.get_tracer_provider()
    current = _current
    if current is None or current[0] is not provider:
        current = _current = (provider, provider.get_tracer(TRACER_NAME))
    return current[1]


def tracing_on() -> bool:
    """Whether an SDK's provider is set in this process (not the API's stand-in): the hot
    paths skip their spans altogether when it is not."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def capture() -> dict[str, str]:
    """The current span's context as `{"traceparent": ..., "tracestate": ...}` ({} if none)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def current_traceparent() -> str:
    """The current span's `traceparent` ("" when no span is recording)."""
    return capture().get("traceparent", "")


def carrier_of(headers: Mapping[Any, Any] | None) -> dict[str, str]:
    """The trace keys of message headers or stream fields, as str (Redis gives bytes)."""
    if not headers:
        return {}
    carrier: dict[str, str] = {}
    for key, raw in _KEYS:
        value = headers.get(key)
        if value is None:
            value = headers.get(raw)
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if isinstance(value, str) and value:
            carrier[key] = value
    return carrier


def restore(carrier: Mapping[Any, Any] | None) -> Context:
    """A Context whose parent is the span `carrier` names (the empty context if none)."""
    found = carrier_of(carrier)
    if not found:
        return _EMPTY
    context = _version_00(found)
    if context is None:
        return propagate.extract(found)
    return (
        trace.set_span_in_context(trace.NonRecordingSpan(context), _EMPTY)
        if context.is_valid
        else _EMPTY
    )


def linked(carrier: Mapping[Any, Any] | None) -> trace.SpanContext | None:
    """The span context `carrier` names, to link to (None if it names none, or not validly)."""
    found = carrier_of(carrier)
    if not found:
        return None
    context = _version_00(found)
    if context is None:
        context = trace.get_current_span(propagate.extract(found)).get_span_context()
    return context if context.is_valid else None


def _version_00(carrier: Mapping[str, str]) -> trace.SpanContext | None:
    """The remote span context of a carrier that is a lone version-00 `traceparent` (what our
    relay sends), read without the propagator's Context; None for anything else (a
    `tracestate`, another version, a malformed value), which the propagator then reads. Every
    consumed message comes through here, so it skips the propagator's general path."""
    traceparent = carrier.get("traceparent", "") if len(carrier) == 1 else ""
    if not _VERSION_00.fullmatch(traceparent):
        return None
    return trace.SpanContext(
        int(traceparent[3:35], 16),
        int(traceparent[36:52], 16),
        is_remote=True,
        trace_flags=trace.TraceFlags(int(traceparent[53:55], 16)),
    )


def record_request_id(span: trace.Span | None = None, request_id: str | None = None) -> None:
    """Put the request id (default: the one bound now) on `span` (default: the current one)."""
    value = request_id or current_request_id()
    target = span if span is not None else trace.get_current_span()
    if value and target.is_recording():
        target.set_attribute(REQUEST_ID_ATTRIBUTE, value)
