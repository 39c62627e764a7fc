"""The outbox keeps the context it was written in; the relay's publish span is its child and
sends its own traceparent; the consumer's process span is the child of that publish."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from django_interlink.events.bus import Consumption, EventBus
from django_interlink.events.consumer import Dispatcher, Outcome
from django_interlink.events.envelope import Envelope
from django_interlink.events.handlers import HandlerRegistry
from django_interlink.events.outbox import outbox_enqueue, outbox_relay
from django_interlink.exceptions import PublishError
from django_interlink.models import OutboxEvent
from django_interlink.request_id import bind_request_id, current_request_id
from django_interlink.tracing import REQUEST_ID_ATTRIBUTE, capture, tracer
from shop.event_samples import sample_data, sample_envelope

pytestmark = pytest.mark.django_db


class CapturingBus(EventBus):
    """Keeps what it is asked to publish; refuses the types in `refuse`."""

    backend = "rabbitmq"

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.refuse = refuse
        self.published: list[Envelope] = []

    def publish(self, envelope: Envelope) -> None:
        if envelope.event_type in self.refuse:
            raise PublishError(f"{envelope.event_type} unroutable")
        self.published.append(envelope)

    def _consume(self, run: Consumption) -> None:
        raise NotImplementedError


def _parent_of(traceparent: str) -> tuple[int, int]:
    """(trace id, span id) a traceparent names (its flags aside)."""
    _, trace_id, span_id, _ = traceparent.split("-")
    return int(trace_id, 16), int(span_id, 16)


def test_the_outbox_row_keeps_the_context_it_was_written_in(spans):
    """outbox_enqueue inside a span stores that span's traceparent with the row."""
    with tracer().start_as_current_span("request") as request:
        outbox_enqueue("user.created", sample_data("user.created"))
        expected = capture()
    row = OutboxEvent.objects.get()
    assert row.trace_context == expected
    context = request.get_span_context()
    assert _parent_of(row.trace_context["traceparent"]) == (context.trace_id, context.span_id)


def test_the_relay_publishes_under_the_stored_context_and_sends_its_own(spans):
    """The publish span is a PRODUCER child of the enqueuing span, with the messaging
    attributes; the message carries the publish span's traceparent, not the enqueuer's."""
    with bind_request_id("req-1"), tracer().start_as_current_span("request"):
        envelope = outbox_enqueue("user.created", sample_data("user.created"))
    bus = CapturingBus()
    outbox_relay(bus=bus)
    request, publish = spans.one("request"), spans.one("publish user.created")
    assert publish.kind is SpanKind.PRODUCER
    assert publish.parent is not None and publish.parent.span_id == request.context.span_id
    assert publish.context.trace_id == request.context.trace_id
    assert publish.attributes["messaging.system"] == "rabbitmq"
    assert publish.attributes["messaging.operation.type"] == "publish"
    assert publish.attributes["messaging.destination.name"] == "user.created"
    assert publish.attributes["messaging.message.id"] == envelope.event_id
    assert publish.attributes[REQUEST_ID_ATTRIBUTE] == "req-1"
    (sent,) = bus.published
    assert set(sent.trace) == {"traceparent"}
    assert _parent_of(sent.trace["traceparent"]) == (
        publish.context.trace_id,
        publish.context.span_id,
    )
    assert sent.to_dict() == envelope.to_dict()  # the body is the event, nothing added


def test_a_refused_publish_ends_its_span_as_an_error(spans):
    """The publish span of an event the broker refused says so."""
    with tracer().start_as_current_span("request"):
        outbox_enqueue("user.created", sample_data("user.created"))
    outbox_relay(bus=CapturingBus(refuse=frozenset({"user.created"})))
    publish = spans.one("publish user.created")
    assert publish.status.status_code is StatusCode.ERROR
    assert publish.attributes["django_interlink.outcome"] == "refused"


def test_a_relay_without_tracing_passes_the_stored_context_on():
    """With no SDK in the relay, the message carries the context stored at enqueue, so the
    consumers still join the producer's trace."""
    stored = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    outbox_enqueue("user.created", sample_data("user.created"), trace_context=stored)
    bus = CapturingBus()
    outbox_relay(bus=bus)
    assert bus.published[0].trace == stored


def _registry(seen: list[Any]) -> HandlerRegistry:
    registry = HandlerRegistry()

    def handle(envelope: Envelope) -> None:
        seen.append(trace.get_current_span().get_span_context())

    registry.add("user.created", handle, name="test.trace_handler", use_inbox=False)
    return registry


def test_the_handlers_run_in_a_process_span_child_of_the_publish(spans):
    """The process span is a CONSUMER child of the traceparent in the message's headers (bytes
    from Redis too), current while the handlers run, with the event's correlation id. (A window
    is one batch span instead: test_windows.py.)"""
    seen: list[Any] = []
    dispatcher = Dispatcher(_registry(seen), system="redis")
    envelope = sample_envelope("user.created")
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    headers = {b"traceparent": parent.encode(), b"envelope": envelope.to_bytes()}
    result = dispatcher.dispatch(envelope.to_bytes(), headers=headers)
    assert result.outcome is Outcome.ACK
    process = spans.one("process user.created")
    assert process.kind is SpanKind.CONSUMER
    assert process.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert process.parent is not None and process.parent.span_id == 0xB7AD6B7169203331
    assert seen == [process.context]
    assert process.attributes["messaging.system"] == "redis"
    assert process.attributes["messaging.operation.type"] == "process"
    assert process.attributes["messaging.message.id"] == envelope.event_id
    assert process.attributes["messaging.destination.name"] == "user.created"
    assert process.attributes["django_interlink.handlers"] == ("test.trace_handler",)
    assert process.attributes[REQUEST_ID_ATTRIBUTE] == envelope.correlation_id


def test_a_message_without_a_trace_starts_one(spans):
    """No traceparent in the headers: the process span is a root."""
    dispatcher = Dispatcher(_registry([]))
    dispatcher.dispatch(sample_envelope("user.created").to_bytes(), headers={"version": 1})
    assert spans.one("process user.created").parent is None


@pytest.mark.parametrize("traced", [True, False], ids=["tracing on", "tracing off"])
def test_a_handler_runs_under_the_event_s_request_id_and_the_caller_s_comes_back(traced, request):
    """While the handlers run, the request id is the event's correlation id; once the message
    is decided, the consumer's own id is bound again, traced or not (the next log line of the
    loop must not carry the last message's id)."""
    if traced:
        request.getfixturevalue("spans")
    seen: list[str | None] = []
    registry = HandlerRegistry()
    registry.add(
        "user.created",
        lambda envelope: seen.append(current_request_id()),
        name="test.request_id",
        use_inbox=False,
    )
    envelope = sample_envelope("user.created")
    with bind_request_id("the-consumer-loop") as loop_id:
        Dispatcher(registry).dispatch(envelope.to_bytes())
        after = current_request_id()
    assert seen == [envelope.correlation_id]
    assert after == loop_id
