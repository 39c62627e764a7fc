"""In-memory products and reservations; reserving moves units from available to reserved."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from pydantic import BaseModel

from mock_services.common.errors import ProblemError
from mock_services.common.store import LockedStore, utcnow
from mock_services.inventory.schemas import Product, ProductCreate, Reservation, ReservationCreate

# Present at start and after every reset (documented in contracts/inventory.yaml):
# id, sku, name, on_hand, unit_price (minor units of SEED_CURRENCY).
SEED_PRODUCTS: tuple[tuple[str, str, str, int, int], ...] = (
    ("00000000-0000-4000-8000-000000000001", "WIDGET-001", "Widget", 100, 1250),
    ("00000000-0000-4000-8000-000000000002", "GADGET-002", "Gadget", 10, 4999),
    ("00000000-0000-4000-8000-000000000003", "GIZMO-003", "Gizmo (sold out)", 0, 800),
)
SEED_CURRENCY = "USD"
WIDGET_ID, GADGET_ID, SOLD_OUT_ID = (seed[0] for seed in SEED_PRODUCTS)


def _product_not_found(product_id: str) -> ProblemError:
    return ProblemError(404, "not-found", f"Product {product_id} does not exist.")


class InventoryStore(LockedStore):
    def _initial_state(self) -> None:
        self._products: dict[str, Product] = {
            product_id: Product(
                id=product_id,
                sku=sku,
                name=name,
                on_hand=on_hand,
                reserved=0,
                available=on_hand,
                unit_price=unit_price,
                currency=SEED_CURRENCY,
            )
            for product_id, sku, name, on_hand, unit_price in SEED_PRODUCTS
        }
        self._reservations: dict[str, Reservation] = {}

    def _tables(self) -> Mapping[str, Mapping[str, BaseModel]]:
        return {"products": self._products, "reservations": self._reservations}

    def seed_product(self, product: Product) -> None:
        """Put `product` in under its own id (provider states: a record the pact names)."""
        with self._lock:
            self._products[product.id] = product

    def seed_reservation(self, reservation: Reservation) -> None:
        """Put `reservation` in under its own id; an active one holds its units."""
        with self._lock:
            if reservation.status == "active":
                self._move_reserved(self.get_product(reservation.product_id), reservation.quantity)
            self._reservations[reservation.id] = reservation

    def create_product(self, data: ProductCreate) -> Product:
        with self._lock:
            if any(product.sku == data.sku for product in self._products.values()):
                raise ProblemError(409, "sku-taken", f"A product with SKU {data.sku} exists.")
            product = Product(
                id=str(uuid.uuid4()),
                sku=data.sku,
                name=data.name,
                on_hand=data.on_hand,
                reserved=0,
                available=data.on_hand,
                unit_price=data.unit_price,
                currency=data.currency,
            )
            self._products[product.id] = product
            return product

    def get_product(self, product_id: str) -> Product:
        with self._lock:
            product = self._products.get(product_id.lower())
            if product is None:
                raise _product_not_found(product_id)
            return product

    def set_price(self, product_id: str, unit_price: int | None) -> Product:
        """The catalogue changes a price (no operation of the contract does: tests and scenes
        use it to show that a reservation keeps the price it was made at)."""
        with self._lock:
            product = self.get_product(product_id).model_copy(update={"unit_price": unit_price})
            self._products[product.id] = product
            return product

    def _move_reserved(self, product: Product, delta: int) -> None:
        reserved = product.reserved + delta
        self._products[product.id] = product.model_copy(
            update={"reserved": reserved, "available": product.on_hand - reserved}
        )

    def reserve(self, data: ReservationCreate) -> Reservation:
        with self._lock:
            product = self.get_product(data.product_id)
            if data.quantity > product.available:
                raise ProblemError(
                    409,
                    "insufficient-stock",
                    f"Only {product.available} unit(s) of {product.sku} are available; "
                    f"{data.quantity} requested.",
                )
            self._move_reserved(product, data.quantity)
            reservation = Reservation(
                id=str(uuid.uuid4()),
                product_id=product.id,
                quantity=data.quantity,
                # The price as it is now: what the buyer of these units is charged.
                unit_price=product.unit_price,
                currency=product.currency,
                status="active",
                order_reference=data.order_reference,
                created_at=utcnow(),
            )
            self._reservations[reservation.id] = reservation
            return reservation

    def get_reservation(self, reservation_id: str) -> Reservation:
        with self._lock:
            reservation = self._reservations.get(reservation_id.lower())
            if reservation is None:
                raise ProblemError(
                    404, "not-found", f"Reservation {reservation_id} does not exist."
                )
            return reservation

    def release(self, reservation_id: str) -> Reservation:
        with self._lock:
            reservation = self.get_reservation(reservation_id)
            if reservation.status == "released":
                raise ProblemError(
                    409, "already-released", f"Reservation {reservation_id} is already released."
                )
            self._move_reserved(self.get_product(reservation.product_id), -reservation.quantity)
            released = reservation.model_copy(update={"status": "released"})
            self._reservations[released.id] = released
            return released
