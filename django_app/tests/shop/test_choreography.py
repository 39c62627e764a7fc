"""The choreographed checkout against the four stubs on real sockets, on the memory bus (SQLite):
the same order as the orchestrated saga, with no orchestrator, under the same faults."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest
from django.core import mail

from django_interlink.events.consumer import Dispatcher, Outcome
from django_interlink.events.crash import CRASH_ENV
from django_interlink.events.envelope import Envelope
from django_interlink.models import InboxEvent, OutboxEvent
from mock_services.inventory.store import GADGET_ID, SOLD_OUT_ID, WIDGET_ID
from project.demo.in_process import ProcessKilled
from shop.choreography.local import settle
from shop.choreography.participants import registry
from shop.choreography.services import checkout_start, checkout_stuck
from shop.models import Checkout
from shop.order_processing import PATIENT

from .support import GADGET_PRICE, WIDGET_PRICE, two_items

pytestmark = pytest.mark.django_db

HAPPY = [
    "checkout.requested",
    "checkout.customer_verified",
    "checkout.stock_reserved",
    "checkout.payment_captured",
    "checkout.order_placed",
]


def events(checkout: Checkout) -> list[str]:
    rows = OutboxEvent.objects.filter(correlation_id=str(checkout.checkout_id)).order_by("id")
    return list(rows.values_list("event_type", flat=True))


def placed(shop, card: str = "tok_visa", items=None) -> Checkout:
    return checkout_start(
        user_id=shop.user(), items=items or two_items(), payment_method=card, currency="USD"
    )


def payments_of(shop, checkout: Checkout) -> list[tuple[int, str]]:
    _, payments, _ = shop.ledger().for_saga(str(checkout.checkout_id))
    return [(p["amount"], p["status"]) for p in payments]


def test_happy_path_reserves_charges_once_places_the_order_and_emails(shop, checkout_bus):
    """Each participant moves the checkout on: completed, one charge, one pending order, one
    e-mail, and the five events of the forward path in order."""
    before = shop.stock()
    checkout = placed(shop)
    settle(bus=checkout_bus)
    checkout.refresh_from_db()
    total = 2 * WIDGET_PRICE + GADGET_PRICE
    assert (checkout.status, checkout.total_amount, checkout.error) == ("completed", total, "")
    assert events(checkout) == HAPPY
    order = shop.orders.get_order(order_id=str(checkout.order_id))
    assert (order["total_amount"], order["status"]) == (total, "pending")
    assert order["payment_id"] == str(checkout.payment_id)
    assert payments_of(shop, checkout) == [(total, "captured")]
    after = shop.stock()
    assert after[WIDGET_ID] == (before[WIDGET_ID][0], before[WIDGET_ID][1] + 2)
    assert after[GADGET_ID] == (before[GADGET_ID][0], before[GADGET_ID][1] + 1)
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert str(checkout.order_id) in mail.outbox[0].subject


def test_declined_card_publishes_the_compensating_events_and_gives_the_stock_back(
    shop, checkout_bus
):
    """A 402: payments publishes payment_failed, inventory releases both reservations and
    publishes stock_released; nothing charged, no order, no e-mail."""
    before = shop.stock()
    checkout = placed(shop, "tok_declined")
    settle(bus=checkout_bus)
    checkout.refresh_from_db()
    assert checkout.status == "compensated"
    assert checkout.error.startswith("payment declined")
    assert events(checkout) == [
        *HAPPY[:3],
        "checkout.payment_failed",
        "checkout.stock_released",
    ]
    assert shop.stock() == before
    assert [r["status"] for r in shop.ledger().for_saga(str(checkout.checkout_id))[0]] == [
        "released",
        "released",
    ]
    assert ("captured" not in {status for _, status in payments_of(shop, checkout)}) is True
    assert mail.outbox == []


def test_sold_out_item_releases_what_the_inventory_participant_had_reserved(shop, checkout_bus):
    """The second item is sold out: the first item's reservation is released by the participant
    that made it, before it publishes stock_refused; payments never hears of the checkout."""
    before = shop.stock()
    items = [{"product_id": WIDGET_ID, "quantity": 3}, {"product_id": SOLD_OUT_ID, "quantity": 1}]
    checkout = placed(shop, items=items)
    settle(bus=checkout_bus)
    checkout.refresh_from_db()
    assert (checkout.status, checkout.error) == (
        "compensated",
        f"not enough stock for product {SOLD_OUT_ID}",
    )
    assert events(checkout) == [*HAPPY[:2], "checkout.stock_refused"]
    assert shop.stock() == before
    assert shop.stubs["payments"].requests(method="POST", path="/payments") == []


def test_inactive_user_fails_the_checkout_before_anything_is_reserved(shop, checkout_bus):
    """The customer participant rejects it: failed, nothing reserved or charged."""
    before = shop.stock()
    checkout = checkout_start(
        user_id=shop.user(active=False), items=two_items(), payment_method="tok_visa"
    )
    settle(bus=checkout_bus)
    checkout.refresh_from_db()
    assert checkout.status == "failed"
    assert events(checkout) == ["checkout.requested", "checkout.customer_rejected"]
    assert shop.stock() == before


def test_503s_that_end_are_retried_by_the_participant_and_the_checkout_completes(
    shop, checkout_bus
):
    """Eight 503s on POST /payments: two attempts of the participant (four requests each, the
    client's retries) fail, the third charges; one payment under one key."""
    shop.faults("payments").add(method="POST", path="/payments", kind="error", status=503, times=8)
    checkout = placed(shop)
    settle(bus=checkout_bus)
    checkout.refresh_from_db()
    assert (checkout.status, checkout.attempts) == ("completed", {"payments": 2})
    posts = shop.stubs["payments"].requests(method="POST", path="/payments")
    assert len(posts) == 9
    assert len({p["idempotency_key"] for p in posts}) == 1
    assert [status for _, status in payments_of(shop, checkout)] == ["captured"]


def test_payments_down_for_good_the_participant_gives_up_and_the_stock_comes_back(
    shop, checkout_bus
):
    """503 forever: after the orchestrated saga's own patience (PATIENT.attempts) the payments
    participant publishes payment_failed, and the inventory participant releases the stock."""
    shop.faults("payments").add(method="POST", path="/payments", kind="error", status=503, times=0)
    before = shop.stock()
    checkout = placed(shop)
    settle(bus=checkout_bus)
    checkout.refresh_from_db()
    assert (checkout.status, checkout.attempts) == ("compensated", {"payments": PATIENT.attempts})
    assert "failed 5 times" in checkout.error
    assert events(checkout)[-2:] == ["checkout.payment_failed", "checkout.stock_released"]
    assert shop.stock() == before
    assert payments_of(shop, checkout) == []


def test_orders_down_for_good_refunds_the_charge_then_releases_the_stock(shop, checkout_bus):
    """503 forever on POST /orders: order_failed, payments refunds (payment_refunded), inventory
    releases (stock_released): three participants undo, each on the event before."""
    shop.faults("orders").add(method="POST", path="/orders", kind="error", status=503, times=0)
    before = shop.stock()
    checkout = placed(shop)
    settle(bus=checkout_bus)
    checkout.refresh_from_db()
    assert checkout.status == "compensated"
    assert events(checkout) == [
        *HAPPY[:4],
        "checkout.order_failed",
        "checkout.payment_refunded",
        "checkout.stock_released",
    ]
    assert [status for _, status in payments_of(shop, checkout)] == ["refunded"]
    assert shop.stock() == before
    assert checkout.refund_id is not None


def test_killed_payments_participant_redelivery_does_not_charge_twice(
    shop, checkout_bus, monkeypatch
):
    """The payments consumer dies after its charge and before its commit (the crash point
    raises instead of SIGKILL here): nothing of its transaction is kept, the redelivered event
    replays the charge under the same key, and the customer is charged once."""
    checkout = placed(shop)
    settle(
        bus=checkout_bus,
        registry=registry.only(["checkout.requested", "checkout.customer_verified"]),
    )
    reserved = OutboxEvent.objects.get(event_type="checkout.stock_reserved")
    body = reserved.payload

    def die(pid: int, sig: int) -> None:
        assert (pid, sig) == (os.getpid(), signal.SIGKILL)
        raise ProcessKilled("checkout:payments:before_commit")

    monkeypatch.setenv(CRASH_ENV, "checkout:payments:before_commit")
    monkeypatch.setattr("django_interlink.crash.os.kill", die)
    message = Envelope.from_dict(body).to_bytes()
    with pytest.raises(ProcessKilled):
        Dispatcher(registry).dispatch(message, delivery_count=1)
    checkout.refresh_from_db()
    assert checkout.status == "stock_reserved"  # the transaction died with the process
    assert InboxEvent.objects.filter(handler="checkout.payments.charge").count() == 0
    assert [status for _, status in payments_of(shop, checkout)] == ["captured"]  # it did charge

    monkeypatch.delenv(CRASH_ENV)
    result = Dispatcher(registry).dispatch(message, delivery_count=2)  # the redelivery
    assert result.outcome is Outcome.ACK
    settle(bus=checkout_bus)
    checkout.refresh_from_db()
    assert checkout.status == "completed"
    posts = shop.stubs["payments"].requests(method="POST", path="/payments")
    assert len(posts) == 2
    assert posts[0]["idempotency_key"] == posts[1]["idempotency_key"]
    assert len(payments_of(shop, checkout)) == 1


def test_a_lost_response_leaves_the_checkout_waiting_where_checkout_stuck_finds_it(
    shop, checkout_bus
):
    """Responses of POST /payments lost for good: the outcome is unknown, so the participant
    never gives up (it could refund nothing it knows of); the row says who holds the checkout.
    Once answers come back, the replay under the same key finds the one charge."""
    fault = shop.faults("payments").add(
        method="POST", path="/payments", kind="lost_response", times=0
    )
    checkout = placed(shop)
    settle(bus=checkout_bus, rounds=2)
    checkout.refresh_from_db()
    assert (checkout.status, checkout.moved_by) == ("stock_reserved", "inventory")
    assert list(checkout_stuck(quiet_for=timedelta(0))) == [checkout]
    assert checkout.attempts == {}  # unknown outcomes are not counted toward giving up
    shop.faults("payments").remove(fault)
    settle(bus=checkout_bus)
    checkout.refresh_from_db()
    assert checkout.status == "completed"
    assert [status for _, status in payments_of(shop, checkout)] == ["captured"]
    assert list(checkout_stuck(quiet_for=timedelta(0))) == []


def test_starting_the_same_checkout_twice_enqueues_one_request(shop, checkout_bus):
    """checkout_start is idempotent on checkout_id: one row, one checkout.requested."""
    user_id = shop.user()
    first = checkout_start(
        user_id=user_id,
        items=two_items(),
        payment_method="tok_visa",
        checkout_id="7d1c2d9e-0000-4000-8000-000000000001",
    )
    second = checkout_start(
        user_id=user_id, items=two_items(), payment_method="tok_visa", checkout_id=first.checkout_id
    )
    assert first.pk == second.pk
    assert events(first) == ["checkout.requested"]
