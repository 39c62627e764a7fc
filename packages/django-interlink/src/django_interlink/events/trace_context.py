"""The messaging spans of the outbox and the consumers, after OpenTelemetry's messaging
semantic conventions: `publish <event type>` (PRODUCER) when the relay hands an event to the
broker, `process <event type>` (CONSUMER) when a consumer runs its handlers.

The outbox row keeps the context current when `outbox_enqueue` ran (the request's, the saga
step's, the handler's). The relay's publish span is that context's child, and the message
carries the publish span's own `traceparent`, so each `process` span is a child of the publish
that sent it: one tree from the request to every handler, however long the row waited. With no
SDK in the relay the stored context goes on unchanged, so the consumers still join the trace.

A window of messages decided in one transaction is one batch, as the conventions shape it: ONE
`process` span for the window, with `messaging.batch.message_count` and a link to each message's
creation context (its publish span), instead of a span per message. A message decided alone
(one at a time, or a window's message-by-message retry) keeps a `process` span of its own, the
publish's child. The constant attributes of a destination are built once, not per message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import messaging_attributes as messaging
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..request_id import bind_request_id
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

# A message's headers (RabbitMQ) or stream fields (Redis): where its trace context travels.
Headers = Mapping[Any, Any] | None
OUTCOME_ATTRIBUTE = "django_interlink.outcome"
HANDLERS_ATTRIBUTE = "django_interlink.handlers"


def _attributes(envelope: Envelope, system: str, operation: str) -> dict[str, Any]:
    return {
        messaging.MESSAGING_SYSTEM: system or "unknown",
        messaging.MESSAGING_OPERATION_TYPE: operation,
        messaging.MESSAGING_OPERATION_NAME: operation,
        messaging.MESSAGING_DESTINATION_NAME: envelope.event_type,
        messaging.MESSAGING_MESSAGE_ID: envelope.event_id,
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
                messaging.MESSAGING_SYSTEM: system or "unknown",
                messaging.MESSAGING_OPERATION_TYPE: "process",
                messaging.MESSAGING_OPERATION_NAME: "process",
                messaging.MESSAGING_DESTINATION_NAME: event_type,
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
    attributes = {**constant, messaging.MESSAGING_MESSAGE_ID: envelope.event_id}
    if envelope.correlation_id:
        attributes[REQUEST_ID_ATTRIBUTE] = envelope.correlation_id
    span = tracer().start_span(
        name, context=restore(headers), kind=SpanKind.CONSUMER, attributes=attributes
    )
    with bind_request_id(envelope.correlation_id), trace.use_span(span, end_on_exit=True):
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
    attributes = {**constant, messaging.MESSAGING_BATCH_MESSAGE_COUNT: len(messages)}
    if types:  # more than one event type: no single destination
        del attributes[messaging.MESSAGING_DESTINATION_NAME]
    links = [
        trace.Link(context)
        for message in messages
        if (context := linked(message.headers)) is not None
    ]
    span = tracer().start_span(
        name.rstrip(), kind=SpanKind.CONSUMER, attributes=attributes, links=links
    )
    with trace.use_span(span, end_on_exit=True):
        yield span
