"""Client of the inventory service (contracts/inventory.yaml)."""

from __future__ import annotations

from typing import Any, Literal, TypedDict, cast

from django_interlink.clients.base import ServiceClient, quote

ReservationStatus = Literal["active", "released"]


class Product(TypedDict):
    id: str
    sku: str
    name: str
    on_hand: int
    reserved: int
    available: int
    unit_price: int | None  # minor units of currency; None: not priced yet
    currency: str


class Reservation(TypedDict):
    id: str
    product_id: str
    quantity: int
    unit_price: int | None  # the price when the units were reserved
    currency: str
    status: ReservationStatus
    order_reference: str | None
    created_at: str


class InventoryServiceClient(ServiceClient):
    """createProduct, getProduct (stock), createReservation, getReservation, releaseReservation."""

    service_name = "inventory"

    def create_product(
        self,
        *,
        sku: str,
        name: str,
        on_hand: int,
        unit_price: int | None = None,
        currency: str | None = None,
        idempotency_key: str | None = None,
    ) -> Product:
        """A new product; without `unit_price` it is not priced yet (and cannot be ordered)."""
        body: dict[str, Any] = {"sku": sku, "name": name, "on_hand": on_hand}
        if unit_price is not None:
            body["unit_price"] = unit_price
        if currency is not None:
            body["currency"] = currency
        response = self.post(
            "/products",
            operation="createProduct",
            json=body,
            idempotency_key=idempotency_key,
            idempotent=True,
        )
        return cast(Product, response.data)

    def get_stock(self, *, product_id: str) -> Product:
        """The product with its stock (on_hand, reserved, available) and its price now; 404 if
        unknown."""
        response = self.get(f"/products/{quote(product_id)}", operation="getProduct")
        return cast(Product, response.data)

    def reserve_item(
        self,
        *,
        product_id: str,
        quantity: int,
        order_reference: str | None = None,
        idempotency_key: str | None = None,
    ) -> Reservation:
        """Hold `quantity` units at the product's current price (the answer's unit_price);
        409 (ResourceConflict) if not enough are available."""
        body: dict[str, Any] = {"product_id": product_id, "quantity": quantity}
        if order_reference is not None:
            body["order_reference"] = order_reference
        response = self.post(
            "/reservations",
            operation="createReservation",
            json=body,
            idempotency_key=idempotency_key,
            idempotent=True,
        )
        return cast(Reservation, response.data)

    def get_reservation(self, *, reservation_id: str) -> Reservation:
        response = self.get(f"/reservations/{quote(reservation_id)}", operation="getReservation")
        return cast(Reservation, response.data)

    def release_reservation(
        self, *, reservation_id: str, idempotency_key: str | None = None
    ) -> Reservation:
        """Give the units back; 409 (ResourceConflict) if already released."""
        response = self.post(
            f"/reservations/{quote(reservation_id)}/release",
            operation="releaseReservation",
            idempotency_key=idempotency_key,
            idempotent=True,
        )
        return cast(Reservation, response.data)
