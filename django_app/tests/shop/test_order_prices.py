"""The order saga charges the catalogue's prices, recorded when the units are reserved.

Against the four stubs on real sockets (SQLite): the inventory stub answers each reservation
with the product's price then; a later change of the catalogue, a replay of the reservation, or
a price the buyer sent must not change what is charged.
"""

from __future__ import annotations

from typing import Any

import pytest

from django_interlink.models import SagaStepLog
from django_interlink.sagas import crash
from django_interlink.sagas.services import saga_execute, saga_resume
from mock_services.inventory.store import GADGET_ID, WIDGET_ID
from shop.order_processing import ORDER_PROCESSING, build_order_context, process_order_request
from shop.prices import check_price, order_total, unit_price

from .support import GADGET_PRICE, WIDGET_PRICE, check_saga, two_items

pytestmark = pytest.mark.django_db


class Killed(BaseException):
    """Raised by a crash hook in place of SIGKILL: nothing in the engine catches it."""


def _reprice(shop, product_id: str, unit_price: int) -> None:
    """The catalogue changes a price (in the inventory stub's own store)."""
    shop.stubs["inventory"].app.state.runtime.store.set_price(product_id, unit_price)


def test_a_replayed_reservation_keeps_its_price_and_the_saga_charges_it(shop):
    """The worker dies once the widget is reserved, before anything is saved; the catalogue
    then raises the widget's price. The resumed saga replays the reservation under its key,
    gets the first answer, and charges and orders at the price recorded then."""
    context = build_order_context(user_id=shop.user(), items=two_items(), payment_method="tok_visa")

    def die_after_the_widget(name: str) -> None:
        if name == "action:reserve_inventory:item-0":
            raise Killed(name)

    with crash.installed(die_after_the_widget), pytest.raises(Killed):
        saga_execute(definition=ORDER_PROCESSING, saga_id="repriced", context=context, owner="w1")
    _reprice(shop, WIDGET_ID, 9999)
    result = saga_resume(saga_id="repriced", owner="w1")
    assert result.status == "completed"
    expected = 2 * WIDGET_PRICE + GADGET_PRICE
    records = result.context["reservations"]
    assert [(records[i]["unit_price"], records[i]["currency"]) for i in ("0", "1")] == [
        (WIDGET_PRICE, "USD"),
        (GADGET_PRICE, "USD"),
    ]
    order = shop.orders.get_order(order_id=result.context["order_id"])
    assert [(i["product_id"], i["unit_price"]) for i in order["items"]] == [
        (WIDGET_ID, WIDGET_PRICE),
        (GADGET_ID, GADGET_PRICE),
    ]
    assert (order["total_amount"], result.context["total_amount"]) == (expected, expected)
    payment = shop.payments.get_payment(payment_id=order["payment_id"])
    assert payment["amount"] == expected
    assert len(shop.ledger().for_saga("repriced")[0]) == 2  # the replay reserved nothing more
    check_saga(shop.ledger(), "repriced", result.status, result.context)


def test_a_sent_price_the_catalogue_does_not_hold_is_rejected_and_undone(shop):
    """The buyer sent the widget's old price: the step is rejected ("price changed") once the
    widget is reserved, the reservation is released, the gadget never sent, nothing charged."""
    before = shop.stock()
    items = two_items()
    items[0]["unit_price"] = WIDGET_PRICE - 1
    result = process_order_request(shop.user(), items, "tok_visa", saga_id="old-price")
    assert result.status == "compensated"
    assert f"price changed for product {WIDGET_ID}: {WIDGET_PRICE - 1} sent, now" in result.error
    assert shop.stock() == before
    reservations, payments, orders = shop.ledger().for_saga("old-price")
    assert [(r["product_id"], r["status"]) for r in reservations] == [(WIDGET_ID, "released")]
    assert (payments, orders) == ([], [])
    steps = list(SagaStepLog.objects.values_list("step_name", "direction", "status").order_by("id"))
    assert steps == [
        ("validate_user", "action", "succeeded"),
        ("reserve_inventory", "action", "rejected"),
        ("reserve_inventory", "compensation", "succeeded"),
    ]
    check_saga(shop.ledger(), "old-price", result.status, result.context)


def test_a_sent_price_equal_to_the_catalogues_is_charged(shop):
    """The deprecated field, sent right, changes nothing: the order completes at that price."""
    items = two_items()
    for item, price in zip(items, (WIDGET_PRICE, GADGET_PRICE), strict=True):
        item["unit_price"] = price
    result = process_order_request(shop.user(), items, "tok_visa")
    assert result.status == "completed"
    assert result.context["total_amount"] == 2 * WIDGET_PRICE + GADGET_PRICE


@pytest.mark.parametrize(
    ("price", "currency", "reason"),
    [(None, "USD", "has no price"), (700, "EUR", "is priced in EUR, not USD")],
)
def test_a_product_the_order_cannot_be_charged_for_is_rejected(shop, price, currency, reason):
    """A product with no price yet, or priced in another currency than the order's: rejected,
    its reservation released, nothing charged."""
    product = shop.inventory.create_product(
        sku="ODD-1", name="Odd", on_hand=5, unit_price=price, currency=currency
    )["id"]
    items = [{"product_id": product, "quantity": 1}]
    result = process_order_request(shop.user(), items, "tok_visa", saga_id="odd")
    assert result.status == "compensated"
    assert result.error.endswith(f"StepRejected: product {product} {reason}")
    reservations, payments, _ = shop.ledger().for_saga("odd")
    assert ([r["status"] for r in reservations], payments) == (["released"], [])


def test_a_reservation_made_by_the_previous_release_keeps_the_accepted_price():
    """A saga in flight at the upgrade: its reservation was recorded without a price, its
    items carry the price the order was accepted with; that one is charged, unchecked."""
    record: dict[str, Any] = {"state": "applied", "id": "r-1"}
    data: dict[str, Any] = {
        "currency": "USD",
        "items": [{"product_id": WIDGET_ID, "quantity": 2, "unit_price": 1999}],
        "reservations": {"0": record},
    }
    check_price(data, 0)
    assert (unit_price(data, 0), order_total(data)) == (1999, 2 * 1999)
    record.update(unit_price=WIDGET_PRICE, currency="USD")
    assert (unit_price(data, 0), order_total(data)) == (WIDGET_PRICE, 2 * WIDGET_PRICE)
