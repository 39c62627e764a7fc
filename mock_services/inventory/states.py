"""Provider states of the inventory stub, named as the consumer pacts name them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mock_services.common.states import StateHandler
from mock_services.common.store import utcnow
from mock_services.inventory.schemas import Product, Reservation
from mock_services.inventory.store import InventoryStore


def product_exists(store: InventoryStore, params: Mapping[str, Any]) -> None:
    on_hand = int(params["on_hand"])
    store.seed_product(
        Product(
            id=params["id"],
            sku=params["sku"],
            name=params.get("name", params["sku"]),
            on_hand=on_hand,
            reserved=0,
            available=on_hand,
            unit_price=params.get("unit_price"),
            currency=params.get("currency", "USD"),
        )
    )


def _reservation(store: InventoryStore, params: Mapping[str, Any], status: str) -> None:
    product = store.get_product(params["product_id"])
    store.seed_reservation(
        Reservation(
            id=params["id"],
            product_id=product.id,
            quantity=int(params.get("quantity", 1)),
            unit_price=product.unit_price,
            currency=product.currency,
            status="active" if status == "active" else "released",
            order_reference=params.get("order_reference"),
            created_at=utcnow(),
        )
    )


def reservation_active(store: InventoryStore, params: Mapping[str, Any]) -> None:
    _reservation(store, params, "active")


def reservation_released(store: InventoryStore, params: Mapping[str, Any]) -> None:
    _reservation(store, params, "released")


STATES: dict[str, StateHandler] = {
    "a product exists": product_exists,
    "an active reservation exists": reservation_active,
    "a released reservation exists": reservation_released,
}
