"""Our infrastructure failing is no verdict on the message: not counted, and the consumer waits."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError
from django.test import override_settings

from django_interlink.conf import _merge, ms_settings
from django_interlink.events.consumer import Dispatcher, Outcome
from django_interlink.events.handlers import HandlerRegistry
from django_interlink.events.infrastructure import Breaker, Failure, classify
from django_interlink.exceptions import (
    BusUnavailable,
    ContractViolation,
    InfrastructureError,
    PermanentHandlerError,
    RegistryUnavailable,
    ResourceNotFound,
    RetryableHandlerError,
    ServiceAuthError,
    ServiceConnectionError,
    ServiceNotFound,
    ServiceTimeoutError,
    ServiceUnavailable,
    UnprocessableEntity,
)
from django_interlink.models import InboxEvent
from shop.event_samples import sample_envelope
from shop.models import UserProfile

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (OperationalError("server closed the connection unexpectedly"), Failure.DATABASE),
        (InterfaceError("connection already closed"), Failure.DATABASE),
        (InfrastructureError("smtp down"), Failure.DEPENDENCY),
        (ServiceConnectionError(), Failure.DEPENDENCY),
        (ServiceTimeoutError(), Failure.DEPENDENCY),
        (ServiceUnavailable(status_code=503), Failure.DEPENDENCY),
        (RegistryUnavailable(), Failure.DEPENDENCY),
        (ServiceNotFound(), Failure.DEPENDENCY),
        (BusUnavailable(), Failure.DEPENDENCY),
        (PermanentHandlerError(), Failure.PERMANENT),
        (RetryableHandlerError(), Failure.HANDLER),
        (IntegrityError("duplicate key"), Failure.HANDLER),
        (DatabaseError("division by zero"), Failure.HANDLER),
        (ResourceNotFound(status_code=404), Failure.HANDLER),
        (UnprocessableEntity(status_code=422), Failure.HANDLER),
        (ServiceAuthError(status_code=401), Failure.HANDLER),
        (ContractViolation(), Failure.HANDLER),
        (KeyError("a bug"), Failure.HANDLER),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.value,
)
def test_each_exception_is_classified_as_whose_failure_it_is(error, failure):
    """The database and the services we call failing are ours; a bug, a 4xx, a refusal are the
    message's (counted); PermanentHandlerError is a verdict."""
    assert classify(error) is failure


def failing_registry(error, *, times=99, prepare=False):
    """user.created handled by a function that raises `error` `times` times, then writes a
    profile; with `prepare`, the error comes from its prepare step instead."""
    calls: list[str] = []
    registry = HandlerRegistry()

    def fail(envelope):
        calls.append(envelope.event_id)
        if len(calls) <= times:
            raise error

    def apply(envelope, *prepared):
        if not prepare:
            fail(envelope)
        UserProfile.objects.create(
            user_id=envelope.data["user_id"], email=envelope.data["email"], name="x"
        )

    registry.add("user.created", apply, name="test.infra", prepare=fail if prepare else None)
    return registry, calls


def breaker(database_up: bool, **kwargs) -> Breaker:
    return Breaker(cap=0.01, probe=lambda: database_up, reset=lambda: None, **kwargs)


@pytest.mark.parametrize(
    ("error", "prepare"),
    [
        (OperationalError("terminating connection due to administrator command"), False),
        (InterfaceError("connection already closed"), False),
        (ServiceConnectionError("inventory refused the connection"), True),
        (ServiceUnavailable("inventory: 503 after retries"), True),
        (InfrastructureError("smtp down"), False),
    ],
    ids=["operational", "interface", "connection-in-prepare", "unavailable-in-prepare", "ours"],
)
def test_an_infrastructure_failure_on_the_last_delivery_is_deferred_not_dead(error, prepare):
    """The database down or a dependency down at delivery MAX_DELIVERIES: DEFER, not DEAD, and
    the dispatcher's breaker is open."""
    registry, _ = failing_registry(error, prepare=prepare)
    dispatcher = Dispatcher(registry, max_deliveries=3, breaker=breaker(database_up=False))
    result = dispatcher.dispatch(sample_envelope("user.created").to_bytes(), delivery_count=3)
    assert (result.outcome, dispatcher.breaker.is_open) == (Outcome.DEFER, True)
    assert (UserProfile.objects.count(), InboxEvent.objects.count()) == (0, 0)


def test_a_database_error_while_the_database_answers_counts_like_the_handlers_own():
    """A deadlock or a statement timeout (the probe succeeds): retried and counted, dead at the
    last delivery, so a query that always fails cannot loop for ever."""
    registry, _ = failing_registry(OperationalError("deadlock detected"))
    dispatcher = Dispatcher(registry, max_deliveries=3, breaker=breaker(database_up=True))
    body = sample_envelope("user.created").to_bytes()
    outcomes = [dispatcher.dispatch(body, delivery_count=n).outcome for n in (1, 3)]
    assert outcomes == [Outcome.RETRY, Outcome.DEAD]
    assert not dispatcher.breaker.is_open


def test_the_handlers_own_failures_still_count():
    """RetryableHandlerError at the last delivery is dead-lettered, as before."""
    registry, _ = failing_registry(RetryableHandlerError("not yet"))
    dispatcher = Dispatcher(registry, max_deliveries=3, breaker=breaker(database_up=False))
    result = dispatcher.dispatch(sample_envelope("user.created").to_bytes(), delivery_count=3)
    assert result.outcome is Outcome.DEAD


def test_a_window_defers_only_what_the_infrastructure_failed():
    """In a window, the message whose handler met the dead database is deferred, the others
    are applied and acked."""
    events = [sample_envelope("user.created", user_id=str(uuid.uuid4())) for _ in range(3)]
    registry = HandlerRegistry()

    def apply(envelope):
        if envelope.event_id == events[1].event_id:
            raise OperationalError("server closed the connection unexpectedly")
        UserProfile.objects.create(
            user_id=envelope.data["user_id"], email=envelope.data["email"], name="x"
        )

    registry.add("user.created", apply, name="test.window_infra")
    dispatcher = Dispatcher(registry, max_deliveries=3, breaker=breaker(database_up=False))
    results = dispatcher.dispatch_window([(e.to_bytes(), 3) for e in events])
    assert [r.outcome for r in results] == [Outcome.ACK, Outcome.DEFER, Outcome.ACK]
    assert UserProfile.objects.count() == 2


def test_the_breaker_waits_for_the_database_then_resumes_and_resets_the_connection():
    """Open after a database failure: closed only once the probe succeeds (the connection
    reset then), the backoff doubling while it fails; an ACK starts the backoff over."""
    answers = iter([False, False, True])
    resets: list[str] = []
    probe_calls: list[bool] = []

    def probe() -> bool:
        probe_calls.append(True)
        return next(answers)

    gate = Breaker(cap=0.02, probe=probe, reset=lambda: resets.append("reset"))
    gate.trip(Failure.DATABASE, "down")
    assert (gate.allows(), resets) == (False, ["reset"])  # within its backoff
    gate.wait(threading.Event())
    assert (len(probe_calls), gate.failures, resets) == (3, 3, ["reset", "reset"])
    assert gate.allows()
    gate.succeeded()
    assert not gate.is_open


def test_a_dependency_failure_waits_its_backoff_without_probing_the_database():
    probed: list[bool] = []

    def probe() -> bool:
        probed.append(True)
        return False

    gate = Breaker(cap=0.01, probe=probe, reset=lambda: None)
    gate.trip(Failure.DEPENDENCY, "inventory down")
    gate.wait(threading.Event())
    assert (gate.allows(), probed) == (True, [])


def test_the_memory_bus_applies_once_an_event_deferred_more_often_than_max_deliveries(
    memory_bus,
):
    """Six failures of a dependency (MAX_DELIVERIES is 3): nothing dead-lettered, the event
    applied once when the dependency is back, settled as one message."""
    registry, calls = failing_registry(InfrastructureError("smtp down"), times=6)
    envelope = sample_envelope("user.created")
    memory_bus.declare(["user.created"])
    memory_bus.publish(envelope)
    fast = _merge(ms_settings.data, {"EVENT_BUS": {"RECONNECT_BACKOFF_MAX": 0.01}})
    with override_settings(INTERLINK=fast):
        settled = memory_bus.consume(registry=registry, max_messages=1, idle_timeout=5)
    assert (settled, len(calls), memory_bus.dead_letters) == (1, 7, {})
    assert UserProfile.objects.count() == 1
