"""Settling a message is a settle span (CLIENT, `messaging.operation.type` settle): a message's
is the child of its process span, a window's is one span under its batch span. The bus's own
statements (the inbox's rows) run with instrumentation suppressed, so they make no client span;
the handlers' own calls are traced as before."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from opentelemetry import trace
from opentelemetry.instrumentation.utils import (
    is_instrumentation_enabled,
    suppress_instrumentation,
)
from opentelemetry.trace import SpanKind, StatusCode

from django_interlink.events.consumer import Dispatcher, Outcome, Result
from django_interlink.events.envelope import Envelope
from django_interlink.events.handlers import HandlerRegistry
from django_interlink.events.trace_context import quiet, settling, settling_window
from django_interlink.exceptions import PermanentHandlerError
from django_interlink.models import InboxEvent, OutboxEvent
from shop.event_samples import sample_envelope

pytestmark = pytest.mark.django_db

PUBLISH = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
HEADERS = {b"traceparent": PUBLISH.encode()}


def _registry(handle: Callable[[Envelope], None], prepare: Any = None) -> HandlerRegistry:
    registry = HandlerRegistry()
    registry.add("user.created", handle, name="test.settle", prepare=prepare)
    return registry


def _handle(envelope: Envelope, prepared: Any = None) -> None:
    """A handler with a statement of its own (traced), as a real handler's writes."""
    OutboxEvent.objects.exists()


def _handler_statements(seen: list[tuple[str, bool, trace.SpanContext]]) -> list[Any]:
    return [(on, current) for sql, on, current in seen if OutboxEvent._meta.db_table in sql]


def _inbox_statements(seen: list[tuple[str, bool, trace.SpanContext]]) -> list[bool]:
    return [on for sql, on, _ in seen if InboxEvent._meta.db_table in sql]


@contextmanager
def statements() -> Iterator[list[tuple[str, bool, trace.SpanContext]]]:
    """Every SQL statement run inside, with whether instrumentation was on for it (what decides
    whether the psycopg instrumentation makes its span) and the span current then."""
    seen: list[tuple[str, bool, trace.SpanContext]] = []

    def note(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        current = trace.get_current_span().get_span_context()
        seen.append((sql, is_instrumentation_enabled(), current))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note):
        yield seen


def test_a_message_is_settled_in_a_span_under_its_process_span(spans):
    envelope = sample_envelope("user.created")
    result = Dispatcher(_registry(_handle), system="redis").dispatch(
        envelope.to_bytes(), headers=HEADERS
    )
    assert result.outcome is Outcome.ACK
    with settling(result, "redis", HEADERS):
        assert not is_instrumentation_enabled()  # XACK: no span of its own
    process, settle = spans.one("process user.created"), spans.one("ack user.created")
    assert result.span == process.context
    assert settle.kind is SpanKind.CLIENT
    assert settle.parent is not None and settle.parent.span_id == process.context.span_id
    assert settle.context.trace_id == process.context.trace_id
    assert settle.attributes["messaging.operation.type"] == "settle"
    assert settle.attributes["messaging.operation.name"] == "ack"
    assert settle.attributes["messaging.system"] == "redis"
    assert settle.attributes["messaging.destination.name"] == "user.created"
    assert settle.attributes["messaging.message.id"] == envelope.event_id
    assert settle.attributes["django_interlink.outcome"] == "ack"
    assert is_instrumentation_enabled()  # back on after the settle


def test_the_inbox_statements_are_quiet_and_the_handlers_are_traced(spans):
    """Per message: the inbox's lookup and INSERT run with instrumentation suppressed; the
    handler's own statement runs with it on, under the process span."""
    dispatcher = Dispatcher(_registry(_handle), system="rabbitmq")
    with statements() as seen:
        dispatcher.dispatch(sample_envelope("user.created").to_bytes(), headers=HEADERS)
    process = spans.one("process user.created")
    inbox = _inbox_statements(seen)
    assert inbox and not any(inbox)
    assert _handler_statements(seen) == [(True, process.context)]


def test_a_failed_message_names_its_outcome_and_without_a_process_span_its_publish(spans):
    """A DEAD result settles as `dead`; one the dispatcher decided before any process span (a
    body it could not read) is the child of its publish instead."""

    def refuse(envelope: Envelope) -> None:
        raise PermanentHandlerError("no")

    result = Dispatcher(_registry(refuse)).dispatch(
        sample_envelope("user.created").to_bytes(), headers=HEADERS
    )
    with settling(result, "rabbitmq", HEADERS):
        pass
    unreadable = Dispatcher(_registry(refuse)).dispatch(b"not json", headers=HEADERS)
    assert unreadable.outcome is Outcome.DEAD and unreadable.span is None
    with settling(unreadable, "rabbitmq", HEADERS):
        pass
    dead, orphan = spans.named("dead user.created") + spans.named("dead")
    assert dead.parent is not None
    assert dead.parent.span_id == spans.one("process user.created").context.span_id
    assert orphan.parent is not None and orphan.parent.span_id == 0xB7AD6B7169203331
    assert orphan.attributes["django_interlink.outcome"] == "dead"


def test_a_deferred_message_is_not_settled(spans):
    with settling(Result(Outcome.DEFER), "redis", HEADERS):
        assert not is_instrumentation_enabled()
    assert spans.all == []


def test_a_settle_that_fails_ends_as_an_error(spans):
    result = Result(Outcome.ACK, sample_envelope("user.created"))
    with pytest.raises(ConnectionError), settling(result, "rabbitmq", HEADERS):
        raise ConnectionError("the channel closed")
    settle = spans.one("ack user.created")
    assert settle.status.status_code is StatusCode.ERROR
    assert [event.name for event in settle.events] == ["exception"]


def test_a_window_is_settled_in_one_span_under_its_batch_span(spans):
    """One settle span for the window, with its count and outcomes; the window's prepare steps
    run in its batch span too; its inbox INSERT is quiet, its handlers traced."""
    prepared: list[tuple[trace.SpanContext, bool]] = []

    def prepare(envelope: Envelope) -> str:
        prepared.append((trace.get_current_span().get_span_context(), True))
        return "ready"

    envelopes = [sample_envelope("user.created") for _ in range(3)]
    dispatcher = Dispatcher(_registry(_handle, prepare=prepare), system="rabbitmq")
    with statements() as seen:
        results = dispatcher.dispatch_window(
            [(envelope.to_bytes(), 1) for envelope in envelopes], headers=[HEADERS] * 3
        )
    with settling_window(results, "rabbitmq"):
        assert not is_instrumentation_enabled()
    batch, settle = spans.one("process user.created"), spans.one("settle user.created")
    assert prepared == [(batch.context, True)] * 3
    assert [result.span for result in results] == [batch.context] * 3
    assert settle.kind is SpanKind.CLIENT
    assert settle.parent is not None and settle.parent.span_id == batch.context.span_id
    assert settle.attributes["messaging.operation.type"] == "settle"
    assert settle.attributes["messaging.batch.message_count"] == 3
    assert settle.attributes["django_interlink.outcomes"] == ("ack",)
    inbox = _inbox_statements(seen)  # the prepare steps' lookup and the window's INSERT
    assert len(inbox) >= 2 and not any(inbox)
    assert _handler_statements(seen) == [(True, batch.context)] * 3


def test_only_the_bus_s_own_suppression_is_lifted_for_the_handlers(spans):
    """Inside the bus's quiet plumbing (a Redis read) the handlers are traced again; a
    suppression the caller made itself stays in place for them."""
    dispatcher = Dispatcher(_registry(_handle), system="redis")

    @quiet
    def read_and_dispatch() -> None:
        dispatcher.dispatch(sample_envelope("user.created").to_bytes(), headers=HEADERS)

    with statements() as seen:
        read_and_dispatch()
        with suppress_instrumentation():
            read_and_dispatch()
    assert [on for on, _ in _handler_statements(seen)] == [True, False]
    assert is_instrumentation_enabled()
