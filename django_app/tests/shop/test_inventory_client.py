"""InventoryServiceClient against the inventory stub: stock moves, typed errors."""

from __future__ import annotations

import uuid

import pytest

from django_interlink.exceptions import ResourceConflict, ResourceNotFound

pytestmark = pytest.mark.usefixtures("reset_stubs")

GADGET = "00000000-0000-4000-8000-000000000002"  # seeded: 10 on hand
SOLD_OUT = "00000000-0000-4000-8000-000000000003"  # seeded: 0 on hand


def test_create_product_then_get_stock(inventory_client):
    """createProduct returns the product with all units available; getProduct reads it back."""
    sku = f"SKU-{uuid.uuid4().hex[:8].upper()}"
    product = inventory_client.create_product(sku=sku, name="Lamp", on_hand=7)
    assert (product["sku"], product["on_hand"], product["reserved"], product["available"]) == (
        sku,
        7,
        0,
        7,
    )
    assert inventory_client.get_stock(product_id=product["id"]) == product


def test_reserve_moves_units_to_reserved(inventory_client):
    """A reservation keeps on_hand and moves the units from available to reserved."""
    reservation = inventory_client.reserve_item(
        product_id=GADGET, quantity=4, order_reference="order-42"
    )
    assert (reservation["status"], reservation["quantity"], reservation["order_reference"]) == (
        "active",
        4,
        "order-42",
    )
    stock = inventory_client.get_stock(product_id=GADGET)
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (10, 4, 6)
    assert inventory_client.get_reservation(reservation_id=reservation["id"]) == reservation


def test_release_gives_the_units_back(inventory_client):
    """Releasing a reservation returns its units; the reservation reads as released."""
    reservation = inventory_client.reserve_item(product_id=GADGET, quantity=4)
    released = inventory_client.release_reservation(reservation_id=reservation["id"])
    assert released["status"] == "released"
    assert inventory_client.get_stock(product_id=GADGET)["available"] == 10


def test_second_release_is_a_conflict(inventory_client):
    """Releasing twice (two logical calls) is a 409 ResourceConflict, already-released."""
    reservation = inventory_client.reserve_item(product_id=GADGET, quantity=1)
    inventory_client.release_reservation(reservation_id=reservation["id"])
    with pytest.raises(ResourceConflict) as info:
        inventory_client.release_reservation(reservation_id=reservation["id"])
    assert info.value.problem["type"] == "https://errors.example.com/already-released"


def test_release_with_the_same_key_is_replayed_not_a_conflict(inventory_client):
    """A release repeated with its idempotency key (a retried step) replays the first answer."""
    reservation = inventory_client.reserve_item(product_id=GADGET, quantity=1)
    key = str(uuid.uuid4())
    first = inventory_client.release_reservation(
        reservation_id=reservation["id"], idempotency_key=key
    )
    again = inventory_client.release_reservation(
        reservation_id=reservation["id"], idempotency_key=key
    )
    assert again == first


def test_insufficient_stock_is_a_conflict_with_problem_detail(inventory_client):
    """Reserving more than available is 409 insufficient-stock; nothing is reserved."""
    with pytest.raises(ResourceConflict) as info:
        inventory_client.reserve_item(product_id=SOLD_OUT, quantity=1)
    assert info.value.status_code == 409
    assert info.value.problem["type"] == "https://errors.example.com/insufficient-stock"
    assert inventory_client.get_stock(product_id=SOLD_OUT)["reserved"] == 0


def test_unknown_product_is_not_found(inventory_client):
    """Reading or reserving an unknown product is a 404 ResourceNotFound."""
    missing = str(uuid.uuid4())
    with pytest.raises(ResourceNotFound):
        inventory_client.get_stock(product_id=missing)
    with pytest.raises(ResourceNotFound):
        inventory_client.reserve_item(product_id=missing, quantity=1)


def test_unknown_reservation_is_not_found(inventory_client):
    """An unknown reservation id is a 404 for reads and releases."""
    missing = str(uuid.uuid4())
    with pytest.raises(ResourceNotFound):
        inventory_client.get_reservation(reservation_id=missing)
    with pytest.raises(ResourceNotFound):
        inventory_client.release_reservation(reservation_id=missing)
