"""What `shop.clients.inventory.InventoryServiceClient` sends to the inventory service and reads."""

from __future__ import annotations

from django_interlink.exceptions import ResourceConflict, ResourceNotFound
from shop.clients.inventory import InventoryServiceClient, Product, Reservation
from tools.pacts.http import Case, problem, reads, uuid

PRODUCT = "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f"
SCARCE = "5c6d7e8f-9a0b-4c1d-8e2f-00000000aaaa"
MISSING = "5c6d7e8f-9a0b-4c1d-8e2f-00000000dead"
WIDGET = "00000000-0000-4000-8000-000000000001"  # seeded by the stub
RESERVATION = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"
RELEASED = "2b3c4d5e-6f7a-4b8c-9d0e-00000000bbbb"
STAMP = "2026-11-25T08:00:00Z"
PRODUCT_STATE = {"id": PRODUCT, "sku": "LAMP-001", "on_hand": 40, "unit_price": 1250}
RESERVATION_STATE = {"id": RESERVATION, "product_id": WIDGET, "quantity": 2}


def product(**fields: object) -> dict[str, object]:
    example = {
        "id": PRODUCT,
        "sku": "LAMP-001",
        "name": "LAMP-001",
        "on_hand": 40,
        "reserved": 0,
        "available": 40,
        "unit_price": 1250,
        "currency": "USD",
        **fields,
    }
    return reads(Product, example, id=uuid(str(example["id"])))


def reservation(**fields: object) -> dict[str, object]:
    example = {
        "id": RESERVATION,
        "product_id": WIDGET,
        "quantity": 2,
        "unit_price": 1250,
        "currency": "USD",
        "status": "active",
        "order_reference": None,
        "created_at": STAMP,
        **fields,
    }
    return reads(Reservation, example, id=uuid(str(example["id"])), status=example["status"])


CLIENT = InventoryServiceClient
CASES = [
    Case(
        "a request to create a product",
        "POST",
        "/products",
        201,
        lambda c: c.create_product(
            sku="DESK-002", name="Desk", on_hand=5, unit_price=9900, currency="USD"
        ),
        body={
            "sku": "DESK-002",
            "name": "Desk",
            "on_hand": 5,
            "unit_price": 9900,
            "currency": "USD",
        },
        idempotent=True,
        created=True,
        response=product(sku="DESK-002", name="Desk", on_hand=5, available=5, unit_price=9900),
    ),
    Case(
        "a request for a product's stock",
        "GET",
        f"/products/{PRODUCT}",
        200,
        lambda c: c.get_stock(product_id=PRODUCT),
        state="a product exists",
        params=PRODUCT_STATE,
        response=product(),
    ),
    Case(
        "a request for a product that does not exist",
        "GET",
        f"/products/{MISSING}",
        404,
        lambda c: c.get_stock(product_id=MISSING),
        response=problem(404, "not-found"),
        raises=ResourceNotFound,
    ),
    Case(
        "a request to reserve units",
        "POST",
        "/reservations",
        201,
        lambda c: c.reserve_item(product_id=PRODUCT, quantity=2),
        state="a product exists",
        params=PRODUCT_STATE,
        body={"product_id": PRODUCT, "quantity": 2},
        idempotent=True,
        created=True,
        response=reservation(product_id=PRODUCT),
    ),
    Case(
        "a request to reserve more units than are available",
        "POST",
        "/reservations",
        409,
        lambda c: c.reserve_item(product_id=SCARCE, quantity=5),
        state="a product exists",
        params={**PRODUCT_STATE, "id": SCARCE, "sku": "LAMP-002", "on_hand": 1},
        body={"product_id": SCARCE, "quantity": 5},
        idempotent=True,
        response=problem(409, "insufficient-stock"),
        raises=ResourceConflict,
    ),
    Case(
        "a request for a reservation",
        "GET",
        f"/reservations/{RESERVATION}",
        200,
        lambda c: c.get_reservation(reservation_id=RESERVATION),
        state="an active reservation exists",
        params=RESERVATION_STATE,
        response=reservation(),
    ),
    Case(
        "a request to release a reservation",
        "POST",
        f"/reservations/{RESERVATION}/release",
        200,
        lambda c: c.release_reservation(reservation_id=RESERVATION),
        state="an active reservation exists",
        params=RESERVATION_STATE,
        idempotent=True,
        response=reservation(status="released"),
    ),
    Case(
        "a request to release a reservation already released",
        "POST",
        f"/reservations/{RELEASED}/release",
        409,
        lambda c: c.release_reservation(reservation_id=RELEASED),
        state="a released reservation exists",
        params={**RESERVATION_STATE, "id": RELEASED},
        idempotent=True,
        response=problem(409, "already-released"),
        raises=ResourceConflict,
    ),
]
