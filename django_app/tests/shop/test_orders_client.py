"""OrderServiceClient against the orders stub: lifecycle, listing, typed errors."""

from __future__ import annotations

import uuid

import pytest

from django_interlink.exceptions import ResourceConflict, ResourceNotFound

pytestmark = pytest.mark.usefixtures("reset_stubs")

WIDGET = "00000000-0000-4000-8000-000000000001"


def _order(orders_client, user_id=None, **kwargs):
    return orders_client.create_order(
        user_id=user_id or str(uuid.uuid4()),
        items=[
            {"product_id": WIDGET, "quantity": 2, "unit_price": 1250},
            {"product_id": str(uuid.uuid4()), "quantity": 1, "unit_price": 500},
        ],
        currency="EUR",
        **kwargs,
    )


def test_create_order_is_pending_with_its_total(orders_client):
    """createOrder returns a pending order whose total is the sum of the items."""
    payment_id, reservation_id = str(uuid.uuid4()), str(uuid.uuid4())
    order = _order(orders_client, payment_id=payment_id, reservation_ids=[reservation_id])
    assert (order["status"], order["total_amount"], order["currency"]) == ("pending", 3000, "EUR")
    assert (order["payment_id"], order["reservation_ids"]) == (payment_id, [reservation_id])
    assert order["cancellation_reason"] is None


def test_get_order_reads_it_back(orders_client):
    """getOrder returns the created order."""
    order = _order(orders_client)
    assert orders_client.get_order(order_id=order["id"]) == order


def test_get_user_orders_lists_newest_first_with_limit(orders_client):
    """listUserOrders returns only that user's orders, newest first, capped by limit."""
    user_id = str(uuid.uuid4())
    first, second = _order(orders_client, user_id), _order(orders_client, user_id)
    _order(orders_client)  # someone else's
    listed = orders_client.get_user_orders(user_id=user_id)
    assert [o["id"] for o in listed["items"]] == [second["id"], first["id"]]
    assert listed["count"] == 2
    assert orders_client.get_user_orders(user_id=user_id, limit=1)["count"] == 1


def test_update_order_status_follows_the_lifecycle(orders_client):
    """pending -> confirmed -> shipped -> delivered."""
    order = _order(orders_client)
    for status in ("confirmed", "shipped", "delivered"):
        order = orders_client.update_order_status(order_id=order["id"], status=status)
        assert order["status"] == status


def test_invalid_transition_is_a_conflict(orders_client):
    """pending -> delivered is a 409 invalid-transition."""
    order = _order(orders_client)
    with pytest.raises(ResourceConflict) as info:
        orders_client.update_order_status(order_id=order["id"], status="delivered")
    assert info.value.problem["type"] == "https://errors.example.com/invalid-transition"


def test_status_update_retried_after_lost_response_still_succeeds(stubs, orders_client, client_log):
    """PUT applied, response lost, retry meets 409 'already there': the client returns the order."""
    order = _order(orders_client)
    stubs["orders"].faults.add(method="PUT", path="/orders/{order_id}/status", kind="lost_response")
    updated = orders_client.update_order_status(order_id=order["id"], status="confirmed")
    assert updated["status"] == "confirmed"
    put = [r for r in client_log() if r.operation == "updateOrderStatus"]
    assert [(r.status, r.attempts) for r in put] == [(409, 2)]


def test_repeating_a_real_invalid_transition_still_fails(orders_client):
    """The 409 shim only applies when the order is in the requested status."""
    order = _order(orders_client)
    orders_client.cancel_order(order_id=order["id"])
    with pytest.raises(ResourceConflict):
        orders_client.update_order_status(order_id=order["id"], status="confirmed")


def test_cancel_order_records_the_reason(orders_client):
    """cancelOrder moves the order to cancelled with its reason."""
    order = _order(orders_client)
    cancelled = orders_client.cancel_order(order_id=order["id"], reason="payment failed")
    assert (cancelled["status"], cancelled["cancellation_reason"]) == (
        "cancelled",
        "payment failed",
    )


def test_cancel_without_reason(orders_client):
    """The reason is optional."""
    order = _order(orders_client)
    assert orders_client.cancel_order(order_id=order["id"])["status"] == "cancelled"


def test_cancelling_twice_is_a_conflict(orders_client):
    """A second cancel is a 409 already-cancelled."""
    order = _order(orders_client)
    orders_client.cancel_order(order_id=order["id"])
    with pytest.raises(ResourceConflict) as info:
        orders_client.cancel_order(order_id=order["id"])
    assert info.value.problem["type"] == "https://errors.example.com/already-cancelled"


def test_unknown_order_is_not_found(orders_client):
    """Reading, updating or cancelling an unknown order is a 404."""
    missing = str(uuid.uuid4())
    with pytest.raises(ResourceNotFound):
        orders_client.get_order(order_id=missing)
    with pytest.raises(ResourceNotFound):
        orders_client.update_order_status(order_id=missing, status="confirmed")
    with pytest.raises(ResourceNotFound):
        orders_client.cancel_order(order_id=missing)
