"""Provider states of the orders stub, named as the consumer pacts name them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mock_services.common.states import StateHandler
from mock_services.common.store import utcnow
from mock_services.orders.schemas import Order, OrderItemOut
from mock_services.orders.store import OrdersStore


def order_exists(store: OrdersStore, params: Mapping[str, Any]) -> None:
    """An order of one item (2 x 1250) in the status the pact names (default pending)."""
    now = utcnow()
    item = OrderItemOut(product_id=params["product_id"], quantity=2, unit_price=1250)
    status = params.get("status", "pending")
    store.seed(
        Order(
            id=params["id"],
            user_id=params["user_id"],
            items=[item],
            currency=params.get("currency", "USD"),
            total_amount=item.quantity * item.unit_price,
            status=status,
            payment_id=params.get("payment_id"),
            reservation_ids=[],
            cancellation_reason="customer request" if status == "cancelled" else None,
            created_at=now,
            updated_at=now,
        )
    )


STATES: dict[str, StateHandler] = {"an order exists": order_exists}
