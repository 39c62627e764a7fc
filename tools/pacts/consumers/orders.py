"""What `shop.clients.orders.OrderServiceClient` sends to the orders service and reads back."""

from __future__ import annotations

from pact import match

from django_interlink.exceptions import ResourceConflict, ResourceNotFound
from shop.clients.orders import Order, OrderServiceClient
from tools.pacts.http import Case, problem, reads, uuid

USER = "4b0e8bd5-2a8e-4f67-8c59-0b2a0b0d6d1e"
PRODUCT = "00000000-0000-4000-8000-000000000001"
ORDER = "7e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b"
CANCELLED = "7e1d2c3b-4a59-4687-9a0b-00000000cccc"
MISSING = "7e1d2c3b-4a59-4687-9a0b-00000000dead"
PAYMENT = "9d7a0c61-3f1b-4b8e-9a2c-5e6f7a8b9c0d"
STAMP = "2026-11-25T08:00:00Z"
ITEM = {"product_id": PRODUCT, "quantity": 2, "unit_price": 1250}
STATE = {"id": ORDER, "user_id": USER, "product_id": PRODUCT, "payment_id": PAYMENT}


def order(**fields: object) -> dict[str, object]:
    example = {
        "id": ORDER,
        "user_id": USER,
        "items": [ITEM],
        "currency": "USD",
        "total_amount": 2500,
        "status": "pending",
        "payment_id": PAYMENT,
        "reservation_ids": [],
        "cancellation_reason": None,
        "created_at": STAMP,
        "updated_at": STAMP,
        **fields,
    }
    exact = {"id": uuid(str(example["id"]))}
    if "status" in fields:
        exact["status"] = fields["status"]  # the client asked for this status
    return reads(Order, example, **exact)


CLIENT = OrderServiceClient
CASES = [
    Case(
        "a request to place an order",
        "POST",
        "/orders",
        201,
        lambda c: c.create_order(
            user_id=USER, items=[ITEM], currency="USD", payment_id=PAYMENT, reservation_ids=[]
        ),
        body={
            "user_id": USER,
            "items": [ITEM],
            "currency": "USD",
            "payment_id": PAYMENT,
            "reservation_ids": [],
        },
        idempotent=True,
        created=True,
        response=order(),
    ),
    Case(
        "a request for an order",
        "GET",
        f"/orders/{ORDER}",
        200,
        lambda c: c.get_order(order_id=ORDER),
        state="an order exists",
        params=STATE,
        response=order(),
    ),
    Case(
        "a request for an order that does not exist",
        "GET",
        f"/orders/{MISSING}",
        404,
        lambda c: c.get_order(order_id=MISSING),
        response=problem(404, "not-found"),
        raises=ResourceNotFound,
    ),
    Case(
        "a request for a user's orders",
        "GET",
        f"/users/{USER}/orders",
        200,
        lambda c: c.get_user_orders(user_id=USER, limit=5),
        state="an order exists",
        params=STATE,
        query={"limit": "5"},
        response={"items": match.each_like(order()), "count": match.like(1)},
    ),
    Case(
        "a request to confirm an order",
        "PUT",
        f"/orders/{ORDER}/status",
        200,
        lambda c: c.update_order_status(order_id=ORDER, status="confirmed"),
        state="an order exists",
        params=STATE,
        body={"status": "confirmed"},
        response=order(status="confirmed"),
    ),
    Case(
        # The client then reads the order (the "a request for an order" interaction) to tell
        # a retried PUT that was applied from a real conflict.
        "a request to ship an order that is still pending",
        "PUT",
        f"/orders/{ORDER}/status",
        409,
        lambda c: c.update_order_status(order_id=ORDER, status="shipped"),
        state="an order exists",
        params=STATE,
        body={"status": "shipped"},
        response=problem(409, "invalid-transition", branches_on_type=True),
        raises=ResourceConflict,
    ),
    Case(
        "a request to cancel an order",
        "POST",
        f"/orders/{ORDER}/cancel",
        200,
        lambda c: c.cancel_order(order_id=ORDER, reason="customer request"),
        state="an order exists",
        params=STATE,
        body={"reason": "customer request"},
        idempotent=True,
        response=order(status="cancelled", cancellation_reason="customer request"),
    ),
    Case(
        "a request to cancel an order that is already cancelled",
        "POST",
        f"/orders/{CANCELLED}/cancel",
        409,
        lambda c: c.cancel_order(order_id=CANCELLED, reason="customer request"),
        state="an order exists",
        params={**STATE, "id": CANCELLED, "status": "cancelled"},
        body={"reason": "customer request"},
        idempotent=True,
        response=problem(409, "already-cancelled"),
        raises=ResourceConflict,
    ),
]
