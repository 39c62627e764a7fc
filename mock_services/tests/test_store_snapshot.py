"""`snapshot()` is the stores' public read: plain copies of every record, taken under the lock."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from mock_services.common.store import LockedStore
from mock_services.inventory.schemas import ReservationCreate
from mock_services.inventory.store import WIDGET_ID, InventoryStore
from mock_services.orders.schemas import OrderCreate
from mock_services.orders.store import OrdersStore
from mock_services.payments.schemas import PaymentCreate
from mock_services.payments.store import PaymentsStore
from mock_services.users.schemas import UserCreate
from mock_services.users.store import UsersStore

USER_ID = "4b0e8bd5-2a8e-4f67-8c59-0b2a0b0d6d1e"


def _users() -> LockedStore:
    store = UsersStore()
    store.create(UserCreate(email="ada@example.com", name="Ada"))
    return store


def _orders() -> LockedStore:
    store = OrdersStore()
    item = {"product_id": WIDGET_ID, "quantity": 2, "unit_price": 1250}
    store.create(
        OrderCreate.model_validate({"user_id": USER_ID, "items": [item], "currency": "USD"})
    )
    return store


def _payments() -> LockedStore:
    store = PaymentsStore()
    payment = store.create(
        PaymentCreate.model_validate(
            {
                "user_id": USER_ID,
                "amount": 1000,
                "currency": "EUR",
                "payment_method": {"type": "card", "token": "tok_visa"},
                "order_reference": "saga-1",
            }
        )
    )
    store.refund(payment.id, 400)
    return store


def _inventory() -> LockedStore:
    store = InventoryStore()
    store.reserve(ReservationCreate(product_id=WIDGET_ID, quantity=3, order_reference="saga-1"))
    return store


STORES: dict[str, tuple[Callable[[], LockedStore], dict[str, int]]] = {
    "users": (_users, {"users": 1}),
    "orders": (_orders, {"orders": 1}),
    "payments": (_payments, {"payments": 1, "refunds": 1}),
    "inventory": (_inventory, {"products": 3, "reservations": 1}),
}


@pytest.mark.parametrize("service", sorted(STORES))
def test_snapshot_lists_every_record_as_plain_data(service: str) -> None:
    """Each table the store keeps, every record in it, as dicts (not the store's models)."""
    build, counts = STORES[service]
    snapshot = build().snapshot()
    assert {name: len(records) for name, records in snapshot.items()} == counts
    assert {type(r) for records in snapshot.values() for r in records} == {dict}


@pytest.mark.parametrize("service", sorted(STORES))
def test_changing_a_snapshot_leaves_the_store_as_it_was(service: str) -> None:
    """Mutating a snapshot at every depth (records, nested lists, tables) changes nothing."""
    store = STORES[service][0]()
    before = copy.deepcopy(store.snapshot())
    taken = store.snapshot()
    for records in taken.values():
        for record in records:
            for value in record.values():
                if isinstance(value, list):
                    value.clear()
            record["id"] = "changed"
        records.clear()
    taken.clear()
    assert store.snapshot() == before
