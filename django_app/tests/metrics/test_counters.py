"""What this process counts, read back through /metrics: client calls and retries against a
stub, saga executions and step durations after order sagas on the stubs, consumer outcomes on
the memory bus. Counters live for the whole test session, so each test compares before/after."""

from __future__ import annotations

import uuid

import pytest

from django_interlink.events.handlers import HandlerRegistry
from django_interlink.exceptions import PermanentHandlerError, ServiceUnavailable
from django_interlink.models import SagaExecution
from mock_services.inventory.store import GADGET_ID, WIDGET_ID
from shop.event_samples import sample_envelope
from shop.order_processing import ORDER_PROCESSING, process_order_request

from .scrape import Samples, value

pytestmark = pytest.mark.django_db

USER_PATH = "/users/{user_id}"
CALLS = "interlink_client_calls_total"
RETRIES = "interlink_client_retries_total"


def _counts(samples: Samples, name: str, **labels: str) -> float:
    return value(samples, name, **labels) or 0.0


def test_a_503_retried_counts_one_call_of_200_and_one_retry_of_503(
    reset_stubs, services_settings, users_client, scrape
):
    user = users_client.create_user(email=f"m{uuid.uuid4().hex[:8]}@example.com", name="Ada")
    before = scrape()
    reset_stubs["users"].faults.add(method="GET", path=USER_PATH, kind="error", status=503)
    assert users_client.get_user(user_id=user["id"]) == user
    after = scrape()
    ok = {"service": "users", "operation": "getUser", "status": "200"}
    assert _counts(after, CALLS, **ok) == _counts(before, CALLS, **ok) + 1
    retried = {"service": "users", "status": "503"}
    assert _counts(after, RETRIES, **retried) == _counts(before, RETRIES, **retried) + 1
    duration = "interlink_client_call_duration_seconds_count"
    of_call = {"service": "users", "operation": "getUser"}
    assert _counts(after, duration, **of_call) == _counts(before, duration, **of_call) + 1


def test_retries_run_out_counts_the_final_503(reset_stubs, services_settings, users_client, scrape):
    """Every attempt 503: one call ending in 503, TOTAL (3) retries of 503."""
    reset_stubs["users"].faults.add(method="GET", path=USER_PATH, kind="error", status=503, times=0)
    before = scrape()
    with pytest.raises(ServiceUnavailable):
        users_client.get_user(user_id=str(uuid.uuid4()))
    after = scrape()
    failed = {"service": "users", "operation": "getUser", "status": "503"}
    assert _counts(after, CALLS, **failed) == _counts(before, CALLS, **failed) + 1
    retried = {"service": "users", "status": "503"}
    assert _counts(after, RETRIES, **retried) == _counts(before, RETRIES, **retried) + 3


def test_sagas_by_status_and_step_durations_after_order_sagas(
    reset_stubs, services_settings, users_client, scrape
):
    """One order completes, one is declined and compensated: the gauges say so by status; the
    payment step's histogram gains one succeeded and one rejected action."""
    saga = ORDER_PROCESSING.saga_type
    step = "interlink_saga_step_duration_seconds_count"
    payment = {"saga": saga, "step": "process_payment", "direction": "action"}
    before = scrape()
    user_id = users_client.create_user(email="ada@example.com", name="Ada")["id"]
    items = [{"product_id": WIDGET_ID, "quantity": 1}, {"product_id": GADGET_ID, "quantity": 1}]
    ok = process_order_request(user_id, items, {"type": "card", "token": "tok_visa"})
    declined = process_order_request(user_id, items, "tok_declined")
    assert (ok.status, declined.status) == ("completed", "compensated")
    after = scrape()
    assert SagaExecution.objects.count() == 2
    assert value(after, "interlink_sagas", saga=saga, status="completed") == 1
    assert value(after, "interlink_sagas", saga=saga, status="compensated") == 1
    assert value(after, "interlink_sagas", saga=saga, status="running") == 0
    for outcome in ("succeeded", "rejected"):
        labels = {**payment, "outcome": outcome}
        assert _counts(after, step, **labels) == _counts(before, step, **labels) + 1


def test_consumer_outcomes_are_counted_by_group(memory_bus, scrape):
    """An event handled and one a handler rejects for good: ack +1 and dead +1 in the group."""
    registry = HandlerRegistry()

    @registry.handler("user.created", name="metrics.accepts")
    def accepts(envelope):
        return None

    @registry.handler("order.cancelled", name="metrics.rejects")
    def rejects(envelope):
        raise PermanentHandlerError("never")

    group = "metrics-group"
    memory_bus.declare(["user.created", "order.cancelled"], group=group)
    memory_bus.publish(sample_envelope("user.created"))
    memory_bus.publish(sample_envelope("order.cancelled"))
    before = scrape()
    assert memory_bus.consume(registry=registry, group=group, max_messages=2, idle_timeout=2) == 2
    after = scrape()
    name = "interlink_consumer_messages_total"
    for outcome in ("ack", "dead"):
        assert (
            _counts(after, name, group=group, outcome=outcome)
            == _counts(before, name, group=group, outcome=outcome) + 1
        )
