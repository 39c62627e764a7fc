"""A window decided in one transaction is one batch, as the messaging conventions shape it: one
`process` span with the message count and a link to each message's publish, current while every
handler runs. A window that fails at once is decided again message by message, each message in a
process span of its own, the child of its publish."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, StatusCode

from django_interlink.events.consumer import Dispatcher, Outcome
from django_interlink.events.envelope import Envelope
from django_interlink.events.handlers import HandlerRegistry
from django_interlink.exceptions import PermanentHandlerError
from django_interlink.request_id import current_request_id
from django_interlink.tracing import carrier_of, linked, restore
from shop.event_samples import sample_envelope

pytestmark = pytest.mark.django_db

PARENTS = (
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
)


def _ids(traceparent: str) -> tuple[int, int]:
    _, trace_id, span_id, _ = traceparent.split("-")
    return int(trace_id, 16), int(span_id, 16)


def _window(
    types: list[str], parents: list[str | None]
) -> tuple[list[Envelope], list[tuple[bytes, int]], list[dict[bytes, bytes]]]:
    envelopes = [sample_envelope(event_type) for event_type in types]
    headers = [
        {b"traceparent": parent.encode()} if parent else {b"version": b"1"} for parent in parents
    ]
    return envelopes, [(envelope.to_bytes(), 1) for envelope in envelopes], headers


def _registry(seen: list[tuple[Any, str | None]], fail: str = "") -> HandlerRegistry:
    """A handler on user.created and one on order.created, each noting the span current and
    the request id bound while it runs; it raises for the event id `fail`."""

    def handle(envelope: Envelope) -> None:
        seen.append((trace.get_current_span().get_span_context(), current_request_id()))
        if envelope.event_id == fail:
            raise PermanentHandlerError("refused")

    registry = HandlerRegistry()
    registry.add("user.created", handle, name="test.users", use_inbox=False)
    registry.add("order.created", handle, name="test.orders", use_inbox=False)
    return registry


def test_a_window_is_one_process_span_linked_to_each_publish(spans):
    seen: list[tuple[Any, str | None]] = []
    envelopes, messages, headers = _window(["user.created"] * 3, [PARENTS[0], None, PARENTS[1]])
    results = Dispatcher(_registry(seen), system="rabbitmq").dispatch_window(
        messages, headers=headers
    )
    assert [result.outcome for result in results] == [Outcome.ACK] * 3
    batch = spans.one("process user.created")
    assert [span.name for span in spans.all] == ["process user.created"]
    assert batch.kind is SpanKind.CONSUMER
    assert batch.parent is None  # a batch starts its own trace; the links lead to the others
    assert batch.attributes["messaging.batch.message_count"] == 3
    assert batch.attributes["messaging.operation.type"] == "process"
    assert batch.attributes["messaging.destination.name"] == "user.created"
    assert batch.attributes["django_interlink.handlers"] == ("test.users",)
    # the message without a traceparent has nothing to link to
    linked = [(link.context.trace_id, link.context.span_id) for link in batch.links]
    assert linked == [_ids(PARENTS[0]), _ids(PARENTS[1])]
    # every handler ran in the batch span, each with its own message's request id
    assert seen == [(batch.context, envelope.correlation_id) for envelope in envelopes]


def test_a_window_of_several_types_names_no_destination(spans):
    _, messages, headers = _window(["user.created", "order.created"], list(PARENTS))
    Dispatcher(_registry([]), system="redis").dispatch_window(messages, headers=headers)
    batch = spans.one("process")
    assert "messaging.destination.name" not in batch.attributes
    assert batch.attributes["messaging.batch.message_count"] == 2
    assert batch.attributes["django_interlink.handlers"] == ("test.orders", "test.users")


def test_a_failed_window_is_decided_again_in_a_span_per_message(spans):
    """The batch span ends as an error; each message decided alone then has its own process
    span under its publish, the failing one an error too."""
    seen: list[tuple[Any, str | None]] = []
    envelopes, messages, headers = _window(["user.created"] * 2, list(PARENTS))
    dispatcher = Dispatcher(_registry(seen, fail=envelopes[1].event_id), system="rabbitmq")
    results = dispatcher.dispatch_window(messages, headers=headers)
    assert [result.outcome for result in results] == [Outcome.ACK, Outcome.DEAD]
    (batch, *alone) = spans.named("process user.created")
    assert "messaging.batch.message_count" in batch.attributes
    assert batch.status.status_code is StatusCode.ERROR
    # the first message ran in the batch, then again alone; the failing one kept its verdict
    assert [span.attributes["messaging.message.id"] for span in alone] == [envelopes[0].event_id]
    (first,) = alone
    assert first.parent is not None
    assert (first.parent.trace_id, first.parent.span_id) == _ids(PARENTS[0])
    assert seen[-1] == (first.context, envelopes[0].correlation_id)


@pytest.mark.parametrize(
    ("carrier", "expected"),
    [
        ({b"traceparent": PARENTS[0].encode()}, _ids(PARENTS[0])),
        ({"traceparent": PARENTS[1]}, _ids(PARENTS[1])),
        ({}, None),
        (None, None),
        ({"traceparent": "00-" + "0" * 32 + "-b7ad6b7169203331-01"}, None),  # no trace id
        ({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-" + "0" * 16 + "-01"}, None),
        ({"traceparent": PARENTS[0].upper()}, None),
        ({"traceparent": PARENTS[0][:-1]}, None),
        ({"traceparent": "not a traceparent"}, None),
    ],
)
def test_a_link_and_a_parent_are_the_context_a_valid_traceparent_names(carrier, expected):
    """`linked` and `restore` read a lone traceparent themselves: as the propagator would."""
    context = linked(carrier)
    found = None if context is None else (context.trace_id, context.span_id)
    assert found == expected
    if context is not None:
        assert context.is_remote and context.trace_flags.sampled
    by_propagator = trace.get_current_span(propagate.extract(carrier_of(carrier)))
    assert trace.get_current_span(restore(carrier)).get_span_context() == (
        by_propagator.get_span_context()
    )


def test_a_link_keeps_the_tracestate():
    """Read by the propagator, as any carrier with more than a version-00 traceparent."""
    carrier = {"traceparent": PARENTS[0], "tracestate": "vendor=value"}
    context = linked(carrier)
    assert context is not None and context.trace_state.get("vendor") == "value"
    assert trace.get_current_span(restore(carrier)).get_span_context() == context
    assert (context.trace_id, context.span_id) == _ids(PARENTS[0])
