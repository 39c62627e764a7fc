"""Consuming: the handler's exception steers the outcome, the inbox makes redelivery harmless."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from django_interlink.events.consumer import Dispatcher, Outcome
from django_interlink.events.handlers import HandlerRegistry
from django_interlink.exceptions import PermanentHandlerError, RetryableHandlerError
from django_interlink.models import InboxEvent
from shop.event_samples import sample_envelope
from shop.models import UserProfile

pytestmark = pytest.mark.django_db


def counting_registry(*, fail_times=0, error=RetryableHandlerError):
    """A registry whose user.created handler writes a profile, failing the first `fail_times`."""
    calls = []
    registry = HandlerRegistry()

    @registry.handler("user.created", name="test.profile")
    def handler(envelope):
        calls.append(envelope.event_id)
        UserProfile.objects.create(
            user_id=envelope.data["user_id"], email=envelope.data["email"], name="x"
        )
        if len(calls) <= fail_times:
            raise error("not yet")

    return registry, calls


def test_redelivered_event_has_no_second_effect(memory_bus):
    """The same event delivered twice runs its handler once and is acked both times."""
    registry, calls = counting_registry()
    dispatcher = Dispatcher(registry)
    body = sample_envelope("user.created").to_bytes()
    first = dispatcher.dispatch(body, delivery_count=1)
    second = dispatcher.dispatch(body, delivery_count=2)
    assert (first.outcome, second.outcome) == (Outcome.ACK, Outcome.ACK)
    assert len(calls) == 1
    assert UserProfile.objects.count() == 1
    assert InboxEvent.objects.get().handler == "test.profile"


def test_failed_handler_leaves_neither_effect_nor_inbox_row(memory_bus):
    """A retryable failure rolls back the handler's writes with its inbox row."""
    registry, _ = counting_registry(fail_times=1)
    result = Dispatcher(registry).dispatch(sample_envelope("user.created").to_bytes())
    assert result.outcome is Outcome.RETRY
    assert (UserProfile.objects.count(), InboxEvent.objects.count()) == (0, 0)


def test_retryable_error_is_retried_with_growing_backoff_then_dead_lettered(memory_bus):
    """Retries wait longer each time; at MAX_DELIVERIES (3) the event is dead-lettered."""
    registry, _ = counting_registry(fail_times=99)
    dispatcher = Dispatcher(registry, max_deliveries=3)
    body = sample_envelope("user.created").to_bytes()
    with memory_bus_backoff(0.1):
        results = [dispatcher.dispatch(body, delivery_count=n) for n in (1, 2, 3)]
    assert [r.outcome for r in results] == [Outcome.RETRY, Outcome.RETRY, Outcome.DEAD]
    assert [r.delay for r in results[:2]] == [0.1, 0.2]
    assert "not yet" in results[2].reason


def memory_bus_backoff(seconds):
    from django.test import override_settings

    from django_interlink.conf import _merge, ms_settings

    return override_settings(
        INTERLINK=_merge(ms_settings.data, {"EVENT_BUS": {"RETRY_BACKOFF": seconds}})
    )


def test_permanent_error_is_dead_lettered_on_first_delivery(memory_bus):
    """PermanentHandlerError skips the retries."""
    registry, calls = counting_registry(fail_times=1, error=PermanentHandlerError)
    result = Dispatcher(registry).dispatch(sample_envelope("user.created").to_bytes())
    assert result.outcome is Outcome.DEAD
    assert len(calls) == 1


def test_unexpected_exception_counts_as_retryable(memory_bus):
    """A bug or an outage (any other exception) is retried, not acked and not dropped."""
    registry, _ = counting_registry(fail_times=1, error=KeyError)
    assert Dispatcher(registry).dispatch(sample_envelope("user.created").to_bytes()).outcome is (
        Outcome.RETRY
    )


def test_event_without_handler_is_dead_lettered_not_acked(memory_bus):
    """A delivered event nobody handles is kept in the dead letters, not silently acked."""
    registry, _ = counting_registry()
    result = Dispatcher(registry).dispatch(sample_envelope("order.cancelled").to_bytes())
    assert result.outcome is Outcome.DEAD
    assert "no handler" in result.reason


def test_memory_bus_retries_then_succeeds(memory_bus):
    """A handler failing twice succeeds on the third delivery: one effect, nothing dead."""
    registry, calls = counting_registry(fail_times=2)
    envelope = sample_envelope("user.created")
    memory_bus.declare(["user.created"])
    memory_bus.publish(envelope)
    settled = memory_bus.consume(registry=registry, max_messages=1, idle_timeout=2)
    assert settled == 1
    assert calls == [envelope.event_id] * 3
    assert UserProfile.objects.count() == 1
    assert memory_bus.dead_letters == {}


def test_memory_bus_consume_stops_at_max_messages_then_at_idle_timeout(memory_bus):
    """Three queued, max two: two settled and one left; the next call takes it, then idles out."""
    received: list[Any] = []
    registry = HandlerRegistry()
    registry.add("user.created", received.append, name="test.record")
    memory_bus.declare(["user.created"])
    sent = [sample_envelope("user.created") for _ in range(3)]
    for envelope in sent:
        memory_bus.publish(envelope)
    first = memory_bus.consume(registry=registry, max_messages=2, idle_timeout=2)
    left = memory_bus.pending()
    second = memory_bus.consume(registry=registry, idle_timeout=0.2)
    assert (first, left, second) == (2, 1, 1)
    assert received == sent


def test_poison_messages_are_dead_lettered_and_the_consumer_keeps_going(memory_bus):
    """Invalid JSON, a schema violation, an unknown type and 1 MB end dead; the good one runs."""
    registry, calls = counting_registry()
    memory_bus.declare(["user.created"])
    good = sample_envelope("user.created")
    bad_schema = sample_envelope("user.created").to_dict()
    bad_schema["data"]["user_id"] = "nope"
    unknown = {**sample_envelope("user.created").to_dict(), "event_type": "user.exploded"}
    huge = sample_envelope("user.created", bio="x" * 1_000_000).to_bytes()
    import json

    for body in [b"{oops", json.dumps(bad_schema).encode(), json.dumps(unknown).encode(), huge]:
        memory_bus.publish_raw("user.created", body)
    memory_bus.publish(good)
    assert memory_bus.consume(registry=registry, max_messages=5, idle_timeout=2) == 5
    dead = memory_bus.dead_letters["django-orders"]
    assert [d.reason.split(":")[0] for d in dead] == ["contract"] * 4
    assert calls == [good.event_id]


@pytest.mark.parametrize(
    "event_type",
    [
        "user.created",
        "user.updated",
        "order.created",
        "order.cancelled",
        "payment.processed",
        "payment.refunded",
        "inventory.reserved",
        "inventory.released",
        "inventory.low",
    ],
)
def test_each_event_type_round_trips_through_the_memory_bus(memory_bus, event_type):
    """The in-memory bus delivers each event type unchanged to its handler."""
    received: list[Any] = []
    registry = HandlerRegistry()
    registry.add(event_type, received.append, name="test.record")
    memory_bus.declare([event_type])
    sent = sample_envelope(event_type)
    memory_bus.publish(sent)
    assert memory_bus.consume(registry=registry, max_messages=1, idle_timeout=2) == 1
    assert received == [sent]


def test_failure_logs_carry_the_event_id_and_correlation_id(memory_bus, caplog):
    """A failed delivery is logged with the event's id and correlation id, as text and fields."""
    registry, _ = counting_registry(fail_times=1)
    envelope = sample_envelope("user.created")
    with caplog.at_level("WARNING", logger="django_interlink.events"):
        Dispatcher(registry).dispatch(envelope.to_bytes())
    (record,) = [r for r in caplog.records if r.name == "django_interlink.events.consumer"]
    assert (record.event_id, record.correlation_id) == (envelope.event_id, envelope.correlation_id)
    assert envelope.event_id in record.getMessage()
    assert envelope.correlation_id in record.getMessage()


def test_handler_runs_with_the_event_correlation_id_as_request_id(memory_bus):
    """Calls a handler makes (HTTP clients, new events) carry the event's correlation id."""
    from django_interlink.request_id import current_request_id

    seen = []
    registry = HandlerRegistry()
    registry.add("user.created", lambda e: seen.append(current_request_id()), name="test.rid")
    envelope = sample_envelope("user.created")
    Dispatcher(registry).dispatch(envelope.to_bytes())
    assert seen == [envelope.correlation_id]


def preparing_registry(prepare):
    """A registry whose user.created handler records (in a transaction?, what prepare gave)."""
    applied = []
    registry = HandlerRegistry()

    @registry.handler("user.created", name="test.prepared", prepare=prepare)
    def handler(envelope, prepared):
        applied.append((connection.in_atomic_block, prepared))

    # what consume_events runs: the registries of the handler modules, merged, then a subset
    return HandlerRegistry().merge(registry).only(["user.created"]), applied


@pytest.mark.django_db(transaction=True)
def test_prepare_runs_outside_the_inbox_transaction_and_hands_its_result_to_the_handler():
    """prepare (remote reads) sees no open transaction; the handler gets its result inside one."""
    prepared_in_transaction = []

    def prepare(envelope):
        prepared_in_transaction.append(connection.in_atomic_block)
        return envelope.data["email"]

    registry, applied = preparing_registry(prepare)
    result = Dispatcher(registry).dispatch(sample_envelope("user.created").to_bytes())
    assert result.outcome is Outcome.ACK
    assert (prepared_in_transaction, applied) == ([False], [(True, "ada@example.com")])


def test_prepare_is_skipped_for_an_event_already_handled(memory_bus):
    """A redelivery finds the inbox row first: no second round of remote reads, no effect."""
    reads = []

    def prepare(envelope):
        reads.append(envelope.event_id)
        return len(reads)

    registry, applied = preparing_registry(prepare)
    body = sample_envelope("user.created").to_bytes()
    outcomes = [Dispatcher(registry).dispatch(body).outcome for _ in range(2)]
    assert outcomes == [Outcome.ACK, Outcome.ACK]
    assert (len(reads), [prepared for _, prepared in applied]) == (1, [1])


def test_failing_prepare_is_retried_and_leaves_no_inbox_row(memory_bus):
    """An error in prepare steers the outcome like one in the handler: retry, nothing kept."""

    def prepare(envelope):
        raise RetryableHandlerError("inventory unreachable")

    registry, applied = preparing_registry(prepare)
    result = Dispatcher(registry).dispatch(sample_envelope("user.created").to_bytes())
    assert (result.outcome, applied, InboxEvent.objects.count()) == (Outcome.RETRY, [], 0)


def test_prepare_needs_the_inbox():
    """Without the inbox there is no transaction to keep the reads out of: refused."""
    with pytest.raises(ValueError, match="prepare"):
        HandlerRegistry().add("user.created", print, use_inbox=False, prepare=print)
