"""The messaging spans of the outbox and the consumers, after OpenTelemetry's messaging semantic
conventions: `publish` when the relay hands an event to the broker, `process` when a consumer
runs its handlers (one a message, or one linked to every message of a window), and a settle span
when it acks, retries or dead-letters, while the bus's own calls run quiet (no client spans).
docs/observability.md draws the tree they make and says what it costs.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import Token
from enum import Enum
from typing import Any, ParamSpec, Protocol, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, Context
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..request_id import bind, bind_request_id, unbind
from ..tracing import (
    REQUEST_ID_ATTRIBUTE,
    capture,
    linked,
    record_request_id,
    restore,
    tracer,
    tracing_on,
)
from .envelope import Envelope

# The messaging attributes of OpenTelemetry's semantic conventions, spelt out: their Python
# package comes with the SDK (the [otel] extra), and these spans are made through the API alone.
MESSAGING_SYSTEM = "messaging.system"
MESSAGING_OPERATION_TYPE = "messaging.operation.type"
MESSAGING_OPERATION_NAME = "messaging.operation.name"
MESSAGING_DESTINATION_NAME = "messaging.destination.name"
MESSAGING_MESSAGE_ID = "messaging.message.id"
MESSAGING_BATCH_MESSAGE_COUNT = "messaging.batch.message_count"

# A message's headers (RabbitMQ) or stream fields (Redis): where its trace context travels.
Headers = Mapping[Any, Any] | None
OUTCOME_ATTRIBUTE = "django_interlink.outcome"
HANDLERS_ATTRIBUTE = "django_interlink.handlers"
# The outcomes a window's settle span covers (ack, retry, dead), each once.
OUTCOMES_ATTRIBUTE = "django_interlink.outcomes"
# Set with the suppression by `quiet`: only a suppression of ours is lifted for the handlers.
_QUIET = otel_context.create_key("django_interlink.quiet")
_EMPTY = Context()
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _attributes(envelope: Envelope, system: str, operation: str) -> dict[str, Any]:
    return {
        MESSAGING_SYSTEM: system or "unknown",
        MESSAGING_OPERATION_TYPE: operation,
        MESSAGING_OPERATION_NAME: operation,
        MESSAGING_DESTINATION_NAME: envelope.event_type,
        MESSAGING_MESSAGE_ID: envelope.event_id,
    }


def publish_spans(
    envelopes: Sequence[Envelope], stored: Sequence[Mapping[str, str]], *, system: str
) -> tuple[list[Envelope], list[trace.Span]]:
    """Start one publish span per envelope under its stored context; the envelopes returned
    carry the context the message must send (`Envelope.trace`)."""
    if not tracing_on():  # the stored contexts go on as they are
        return [
            dataclasses.replace(envelope, trace=dict(context)) if context else envelope
            for envelope, context in zip(envelopes, stored, strict=True)
        ], []
    traced: list[Envelope] = []
    spans: list[trace.Span] = []
    for envelope, context in zip(envelopes, stored, strict=True):
        span = tracer().start_span(
            f"publish {envelope.event_type}",
            context=restore(context),
            kind=SpanKind.PRODUCER,
            attributes=_attributes(envelope, system, "publish"),
        )
        record_request_id(span, envelope.correlation_id)
        if span.is_recording():
            with trace.use_span(span, end_on_exit=False):
                carrier = capture()
        else:
            carrier = dict(context)
        traced.append(dataclasses.replace(envelope, trace=carrier) if carrier else envelope)
        spans.append(span)
    return traced, spans


def end_publish_spans(
    spans: Sequence[trace.Span], outcomes: Sequence[str | None], unavailable: Exception | None
) -> None:
    """End each publish span with what became of its event (None: the broker has it)."""
    for index, span in enumerate(spans):
        if index < len(outcomes) and outcomes[index] is None:
            span.set_attribute(OUTCOME_ATTRIBUTE, "confirmed")
        else:
            reason = outcomes[index] if index < len(outcomes) else str(unavailable)
            span.set_attribute(OUTCOME_ATTRIBUTE, "refused")
            span.set_status(Status(StatusCode.ERROR, str(reason)[:200]))
        span.end()


class Named(Protocol):
    """A handler, as far as a span is concerned."""

    @property
    def name(self) -> str: ...


class Message(Protocol):
    """A message of a window, as far as its batch span is concerned."""

    @property
    def envelope(self) -> Envelope: ...

    @property
    def headers(self) -> Headers: ...

    @property
    def handlers(self) -> Sequence[Named]: ...


# What every process span of one destination shares: (system, event type, handler names) ->
# (span name, attributes). Bounded: a consumer has a handful of destinations.
_PROCESS: dict[tuple[str, str, tuple[str, ...]], tuple[str, dict[str, Any]]] = {}
_PROCESS_LIMIT = 1024


def _process(system: str, event_type: str, handlers: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    key = (system, event_type, handlers)
    found = _PROCESS.get(key)
    if found is None:
        if len(_PROCESS) >= _PROCESS_LIMIT:
            _PROCESS.clear()
        found = _PROCESS[key] = (
            f"process {event_type}",
            {
                MESSAGING_SYSTEM: system or "unknown",
                MESSAGING_OPERATION_TYPE: "process",
                MESSAGING_OPERATION_NAME: "process",
                MESSAGING_DESTINATION_NAME: event_type,
                HANDLERS_ATTRIBUTE: key[2],
            },
        )
    return found


@contextmanager
def processing(
    envelope: Envelope, headers: Headers, system: str, handlers: Sequence[Named]
) -> Iterator[trace.Span]:
    """Where a message's handlers run: its correlation id bound as the request id, and its
    `process <event type>` span current, a child of the publish that sent it (`headers`)."""
    if not tracing_on():
        with bind_request_id(envelope.correlation_id):
            yield trace.INVALID_SPAN
        return
    name, constant = _process(
        system, envelope.event_type, tuple(handler.name for handler in handlers)
    )
    attributes = {**constant, MESSAGING_MESSAGE_ID: envelope.event_id}
    if envelope.correlation_id:
        attributes[REQUEST_ID_ATTRIBUTE] = envelope.correlation_id
    span = tracer().start_span(
        name, context=restore(headers), kind=SpanKind.CONSUMER, attributes=attributes
    )
    with _Current(span, binds=True, request_id=envelope.correlation_id):
        yield span


@contextmanager
def processing_window(messages: Sequence[Message], system: str) -> Iterator[trace.Span]:
    """Where a window's handlers run, as one batch: a `process` span (named for the event
    type when the window has one) with `messaging.batch.message_count` and a link to each
    message's creation context, its publish span. The span is current while the handlers run
    (their own spans are its children); binding each message's request id is the caller's."""
    if not tracing_on() or not messages:
        yield trace.INVALID_SPAN
        return
    types = {message.envelope.event_type for message in messages}
    handlers = {handler.name for message in messages for handler in message.handlers}
    name, constant = _process(
        system, types.pop() if len(types) == 1 else "", tuple(sorted(handlers))
    )
    attributes = {**constant, MESSAGING_BATCH_MESSAGE_COUNT: len(messages)}
    if types:  # more than one event type: no single destination
        del attributes[MESSAGING_DESTINATION_NAME]
    links = [
        trace.Link(context)
        for message in messages
        if (context := linked(message.headers)) is not None
    ]
    span = tracer().start_span(
        name.rstrip(), kind=SpanKind.CONSUMER, attributes=attributes, links=links
    )
    with _Current(span):
        yield span


class _Current:
    """`span` current until the block ends, then ended, an exception escaping the block
    recorded on it as an error; with `binds`, `request_id` (or a new one) bound as the request
    id meanwhile. A class, not a generator: it runs for every message a consumer takes."""

    __slots__ = ("_bound", "_token", "binds", "request_id", "span")

    def __init__(self, span: trace.Span, *, binds: bool = False, request_id: str = "") -> None:
        self.span, self.binds, self.request_id = span, binds, request_id

    def __enter__(self) -> trace.Span:
        self._bound = bind(self.request_id) if self.binds else None
        self._token = _make_current(self.span)
        return self.span

    def __exit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        if isinstance(error, Exception):
            failed(self.span, error)
        otel_context.detach(self._token)
        self.span.end()
        if self._bound is not None:
            unbind(self._bound)


def _make_current(span: trace.Span) -> Token[Context]:
    """Attach a context with `span` current; instrumentation that `quiet` suppressed around the
    consumer works again inside it: the handlers' own calls are traced."""
    context = trace.set_span_in_context(span)
    if context.get(_QUIET):  # the suppression lifted and our mark with it, in one copy
        context = Context({**context, _SUPPRESS_INSTRUMENTATION_KEY: False, _QUIET: False})
    return otel_context.attach(context)


def failed(span: trace.Span, error: BaseException) -> None:
    """Mark `span` as an error: `error` recorded as its exception event and its status."""
    if span.is_recording():
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"[:200]))


def _suppress() -> Token[Context] | None:
    """Suppress instrumentation in the current context: the token to detach, None if tracing
    is off or instrumentation is suppressed already (by us, or by the caller)."""
    if not tracing_on():
        return None
    current = otel_context.get_current()
    if current.get(_SUPPRESS_INSTRUMENTATION_KEY):
        return None
    return otel_context.attach(
        Context({**current, _SUPPRESS_INSTRUMENTATION_KEY: True, _QUIET: True})  # one copy
    )


@contextmanager
def _suppressed() -> Iterator[None]:
    token = _suppress()
    try:
        yield
    finally:
        if token is not None:
            otel_context.detach(token)


def quiet(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run `func`, a piece of the bus's own plumbing (an inbox row, a read from the broker, an
    acknowledgement), with OpenTelemetry's instrumentation suppressed: it makes no client span
    (psycopg, redis) of its own. A handler called from inside runs traced again (`processing`)."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        token = _suppress()
        try:
            return func(*args, **kwargs)
        finally:
            if token is not None:
                otel_context.detach(token)

    return wrapper


class Settled(Protocol):
    """A message's decided fate, as far as its settle span is concerned (consumer.Result)."""

    @property
    def outcome(self) -> Enum: ...

    @property
    def envelope(self) -> Envelope | None: ...

    @property
    def span(self) -> trace.SpanContext | None: ...


# (system, operation, event type) -> (span name, attributes): built once a destination.
_SETTLE: dict[tuple[str, str, str], tuple[str, dict[str, Any]]] = {}


def _settle(system: str, operation: str, event_type: str) -> tuple[str, dict[str, Any]]:
    key = (system, operation, event_type)
    found = _SETTLE.get(key)
    if found is None:
        if len(_SETTLE) >= _PROCESS_LIMIT:
            _SETTLE.clear()
        attributes: dict[str, Any] = {
            MESSAGING_SYSTEM: system or "unknown",
            MESSAGING_OPERATION_TYPE: "settle",
            MESSAGING_OPERATION_NAME: operation,
        }
        if event_type:
            attributes[MESSAGING_DESTINATION_NAME] = event_type
        found = _SETTLE[key] = (f"{operation} {event_type}".rstrip(), attributes)
    return found


def _parent(span: trace.SpanContext | None, headers: Headers) -> Context:
    if span is not None and span.is_valid:
        return trace.set_span_in_context(trace.NonRecordingSpan(span), _EMPTY)
    return restore(headers)


def settling(result: Settled, system: str, headers: Headers = None) -> AbstractContextManager[None]:
    """Where the backend carries out one message's `result`: an `<outcome> <event type>` settle
    span (CLIENT), the child of the message's process span (`result.span`; without one, of its
    publish in `headers`), with the bus's own calls quiet inside. A deferred message is not
    settled: no span, only the quiet."""
    operation = str(result.outcome.value)
    if not tracing_on() or operation == "defer":
        return _suppressed()
    envelope = result.envelope
    name, constant = _settle(system, operation, envelope.event_type if envelope else "")
    attributes = {**constant, OUTCOME_ATTRIBUTE: operation}
    if envelope is not None:
        attributes[MESSAGING_MESSAGE_ID] = envelope.event_id
    span = tracer().start_span(
        name, context=_parent(result.span, headers), kind=SpanKind.CLIENT, attributes=attributes
    )
    return _settled(span)


def settling_window(
    results: Sequence[Settled], system: str, count: int | None = None
) -> AbstractContextManager[None]:
    """Where the backend carries out a window's results at once: ONE `settle <event type>` span
    (CLIENT), the child of the window's batch span (the results' `span`), with how many messages
    it settles (`count`, default: the results not deferred) and which outcomes, the bus's own
    calls quiet inside."""
    settled = [result for result in results if str(result.outcome.value) != "defer"]
    if not tracing_on() or not (settled or count):
        return _suppressed()
    types = {result.envelope.event_type for result in settled if result.envelope is not None}
    name, constant = _settle(system, "settle", types.pop() if len(types) == 1 else "")
    attributes = {
        **constant,
        MESSAGING_BATCH_MESSAGE_COUNT: len(settled) if count is None else count,
        OUTCOMES_ATTRIBUTE: tuple(sorted({str(result.outcome.value) for result in settled})),
    }
    parent = next((result.span for result in settled if result.span is not None), None)
    span = tracer().start_span(
        name, context=_parent(parent, None), kind=SpanKind.CLIENT, attributes=attributes
    )
    return _settled(span)


@contextmanager
def _settled(span: trace.Span) -> Iterator[None]:
    """The settle span open (not current: nothing below it is traced) over the quiet block."""
    token = _suppress()
    try:
        yield
    except Exception as exc:
        failed(span, exc)
        raise
    finally:
        if token is not None:
            otel_context.detach(token)
        span.end()
