"""Client of the orders service (contracts/orders.yaml)."""

from __future__ import annotations

from typing import Any, Literal, TypedDict, cast

from django_interlink.clients.base import ServiceClient, quote
from django_interlink.exceptions import ResourceConflict

INVALID_TRANSITION = "https://errors.example.com/invalid-transition"
OrderStatus = Literal["pending", "confirmed", "shipped", "delivered", "cancelled"]


class OrderItem(TypedDict):
    product_id: str
    quantity: int
    unit_price: int  # minor units of the order's currency


class Order(TypedDict):
    id: str
    user_id: str
    items: list[OrderItem]
    currency: str
    total_amount: int
    status: OrderStatus
    payment_id: str | None
    reservation_ids: list[str]
    cancellation_reason: str | None
    created_at: str
    updated_at: str


class OrderList(TypedDict):
    items: list[Order]
    count: int


class OrderServiceClient(ServiceClient):
    """createOrder, getOrder, listUserOrders, updateOrderStatus, cancelOrder."""

    service_name = "orders"

    def create_order(
        self,
        *,
        user_id: str,
        items: list[OrderItem],
        currency: str,
        payment_id: str | None = None,
        reservation_ids: list[str] | None = None,
        idempotency_key: str | None = None,
    ) -> Order:
        """Place an order (status pending); 422 (UnprocessableEntity) if the content is invalid."""
        body: dict[str, Any] = {"user_id": user_id, "items": items, "currency": currency}
        if payment_id is not None:
            body["payment_id"] = payment_id
        if reservation_ids is not None:
            body["reservation_ids"] = reservation_ids
        response = self.post(
            "/orders",
            operation="createOrder",
            json=body,
            idempotency_key=idempotency_key,
            idempotent=True,
        )
        return cast(Order, response.data)

    def get_order(self, *, order_id: str) -> Order:
        """The order; 404 (ResourceNotFound) if unknown."""
        return cast(Order, self.get(f"/orders/{quote(order_id)}", operation="getOrder").data)

    def get_user_orders(self, *, user_id: str, limit: int | None = None) -> OrderList:
        """A user's orders, newest first as the service returns them."""
        response = self.get(
            f"/users/{quote(user_id)}/orders", operation="listUserOrders", params={"limit": limit}
        )
        return cast(OrderList, response.data)

    def update_order_status(self, *, order_id: str, status: OrderStatus) -> Order:
        """Move the order to `status`; 409 (ResourceConflict) for an invalid transition.

        The service answers 409 to a move to the status the order already has, so a PUT retried
        after its first attempt was applied (response lost) would fail although it succeeded:
        when the order turns out to be in the requested status, that order is returned.
        """
        try:
            response = self.put(
                f"/orders/{quote(order_id)}/status",
                operation="updateOrderStatus",
                json={"status": status},
            )
        except ResourceConflict as exc:
            if exc.problem.get("type") != INVALID_TRANSITION:
                raise
            current = self.get_order(order_id=order_id)
            if current["status"] != status:
                raise
            return current
        return cast(Order, response.data)

    def cancel_order(
        self, *, order_id: str, reason: str | None = None, idempotency_key: str | None = None
    ) -> Order:
        """Cancel the order; 409 (ResourceConflict) if it is already cancelled."""
        body: dict[str, Any] = {} if reason is None else {"reason": reason}
        response = self.post(
            f"/orders/{quote(order_id)}/cancel",
            operation="cancelOrder",
            json=body,
            idempotency_key=idempotency_key,
            idempotent=True,
        )
        return cast(Order, response.data)
