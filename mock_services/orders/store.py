"""In-memory orders with the status state machine."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from pydantic import BaseModel

from mock_services.common.errors import ProblemError
from mock_services.common.store import LockedStore, utcnow
from mock_services.orders.schemas import Order, OrderCreate, OrderItemOut, OrderStatus

# Allowed moves; anything else (including staying put) is 409 invalid-transition.
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"confirmed", "cancelled"}),
    "confirmed": frozenset({"shipped", "cancelled"}),
    "shipped": frozenset({"delivered"}),
    "delivered": frozenset(),
    "cancelled": frozenset(),
}


class OrdersStore(LockedStore):
    def _initial_state(self) -> None:
        self._orders: dict[str, Order] = {}

    def _tables(self) -> Mapping[str, Mapping[str, BaseModel]]:
        return {"orders": self._orders}

    def seed(self, order: Order) -> None:
        """Put `order` in under its own id (provider states: a record the pact names)."""
        with self._lock:
            self._orders[order.id] = order

    def create(self, data: OrderCreate) -> Order:
        now = utcnow()
        order = Order(
            id=str(uuid.uuid4()),
            user_id=data.user_id.lower(),
            items=[OrderItemOut(**item.model_dump()) for item in data.items],
            currency=data.currency,
            total_amount=sum(item.quantity * item.unit_price for item in data.items),
            status="pending",
            payment_id=data.payment_id.lower() if data.payment_id else None,
            reservation_ids=[rid.lower() for rid in data.reservation_ids],
            cancellation_reason=None,
            created_at=now,
            updated_at=now,
        )
        with self._lock:
            self._orders[order.id] = order
        return order

    def get(self, order_id: str) -> Order:
        with self._lock:
            order = self._orders.get(order_id.lower())
            if order is None:
                raise ProblemError(404, "not-found", f"Order {order_id} does not exist.")
            return order

    def for_user(self, user_id: str, limit: int) -> list[Order]:
        """The user's orders, newest first."""
        wanted = user_id.lower()
        with self._lock:
            orders = [order for order in self._orders.values() if order.user_id == wanted]
        orders.sort(key=lambda order: (order.created_at, order.id), reverse=True)
        return orders[:limit]

    def set_status(self, order_id: str, status: OrderStatus, reason: str | None = None) -> Order:
        with self._lock:
            order = self.get(order_id)
            if status == "cancelled" and order.status == "cancelled":
                raise ProblemError(
                    409, "already-cancelled", f"Order {order.id} is already cancelled."
                )
            if status not in TRANSITIONS[order.status]:
                raise ProblemError(
                    409,
                    "invalid-transition",
                    f"Order {order.id} cannot go from {order.status} to {status}.",
                )
            update: dict[str, object] = {"status": status, "updated_at": utcnow()}
            if status == "cancelled":
                update["cancellation_reason"] = reason
            changed = order.model_copy(update=update)
            self._orders[changed.id] = changed
            return changed
