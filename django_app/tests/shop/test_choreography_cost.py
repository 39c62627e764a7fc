"""What one order costs, orchestrated and choreographed, counted in one run on the stubs: the
events each flow publishes, the messages its consumers handle and the HTTP requests each service
receives. docs/choreography.md cites these figures; this test keeps them true."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from django_interlink.models import InboxEvent, OutboxEvent, SagaStepLog
from shop.choreography.local import settle
from shop.choreography.services import checkout_start
from shop.order_processing import process_order_request

from .support import two_items

pytestmark = pytest.mark.django_db

SERVICES = ("users", "inventory", "payments", "orders")


def requests_by_service(stubs: dict[str, Any]) -> Counter[str]:
    return Counter({name: len(stubs[name].requests()) for name in SERVICES})


def cost(shop, run, email: str) -> dict[str, Any]:
    """Run one order with `run(user_id) -> correlation id`; what it published and called."""
    user_id = shop.user(email=email)
    before = requests_by_service(shop.stubs)
    inbox_before, steps_before = InboxEvent.objects.count(), SagaStepLog.objects.count()
    correlation = run(user_id)
    calls = requests_by_service(shop.stubs)
    calls.subtract(before)
    return {
        "events": OutboxEvent.objects.filter(correlation_id=correlation).count(),
        "handled": InboxEvent.objects.count() - inbox_before,
        "step_log_rows": SagaStepLog.objects.count() - steps_before,
        "calls": {name: calls[name] for name in SERVICES},
    }


def orchestrated(card: str):
    def run(user_id: str) -> str:
        return process_order_request(user_id, two_items(), card).saga_id

    return run


def choreographed(bus, card: str):
    def run(user_id: str) -> str:
        checkout = checkout_start(user_id=user_id, items=two_items(), payment_method=card)
        settle(bus=bus)
        return str(checkout.checkout_id)

    return run


def figures(events, handled, step_log_rows, users, inventory, payments, orders) -> dict[str, Any]:
    return {
        "events": events,
        "handled": handled,
        "step_log_rows": step_log_rows,
        "calls": {"users": users, "inventory": inventory, "payments": payments, "orders": orders},
    }


@pytest.mark.parametrize(
    ("card", "payments_down", "expected_orchestrated", "expected_choreographed"),
    [
        pytest.param(
            "tok_visa",
            False,
            figures(2, 0, 5, 1, 2, 1, 1),
            figures(5, 5, 0, 1, 2, 1, 1),
            id="placed",
        ),
        pytest.param(
            "tok_declined",
            False,
            figures(0, 0, 5, 1, 4, 1, 0),
            figures(5, 4, 0, 1, 4, 1, 0),
            id="declined",
        ),
        pytest.param(
            "tok_visa",
            True,
            figures(0, 0, 9, 1, 4, 20, 0),
            figures(5, 4, 0, 1, 4, 20, 0),
            id="payments-503-for-good",
        ),
    ],
)
def test_events_and_calls_of_one_order_in_each_flow(
    shop, checkout_bus, card, payments_down, expected_orchestrated, expected_choreographed
):
    """The figures of docs/choreography.md's cost table: the same HTTP requests either way; the
    choreography adds an event and a consumed message per step, the orchestration a step log."""
    if payments_down:
        shop.faults("payments").add(
            method="POST", path="/payments", kind="error", status=503, times=0
        )
    o = cost(shop, orchestrated(card), "ada@example.com")
    c = cost(shop, choreographed(checkout_bus, card), "grace@example.com")
    assert (o, c) == (expected_orchestrated, expected_choreographed)
