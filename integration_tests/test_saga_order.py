"""OrderProcessingSaga on PostgreSQL against the four stubs: every failure undone correctly.

Each test checks the saga's outcome, the order of its compensations, and the invariants on the
stubs' own ledgers: stock on hand constant and reserved matching live reservations, at most one
charge per saga, every payment backing a live order or refunded.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone
from tests.shop.support import Shop, check_events, check_global, check_saga, lifted_at, two_items

from django_interlink.models import OutboxEvent, SagaExecution, SagaStepLog
from django_interlink.sagas.services import saga_resume_stale, saga_retry_compensation
from mock_services.inventory.store import SOLD_OUT_ID, WIDGET_ID
from shop.order_processing import process_order_request

pytestmark = pytest.mark.django_db

VISA = {"type": "card", "token": "tok_visa"}


def saga_conf(services_settings: dict[str, Any], **saga: Any) -> dict[str, Any]:
    conf = dict(services_settings)
    conf["SAGA"] = {
        **conf.get("SAGA", {}),
        "LEASE_SECONDS": 30,
        "STEP_TIMEOUT": 5.0,
        "COMPENSATION_ATTEMPTS": 6,
        "COMPENSATION_BACKOFF": 0.1,
        **saga,
    }
    return conf


@pytest.fixture
def shop(postgres, services_settings, reset_stubs):
    with override_settings(INTERLINK=saga_conf(services_settings)):
        s = Shop(reset_stubs)
        yield s
        s.close()


def on_hand(shop: Shop) -> dict[str, int]:
    return {pid: p["on_hand"] for pid, p in shop.ledger().products.items()}


def trail(saga_id: str) -> list[tuple[str, str, str]]:
    """(step, direction, status) of every attempt, in order."""
    return list(
        SagaStepLog.objects.filter(execution__saga_id=saga_id)
        .order_by("started_at", "id")
        .values_list("step_name", "direction", "status")
    )


def undo_order(saga_id: str) -> list[str]:
    return [s for s, d, st in trail(saga_id) if d == "compensation" and st == "succeeded"]


def test_happy_path_completes_with_one_charge_one_order_and_an_email(shop):
    """Everything succeeds: COMPLETED, stock held, one captured payment, one order, events."""
    before = on_hand(shop)
    result = process_order_request(shop.user(), two_items(), VISA, saga_id="happy")
    assert result.status == "completed"
    ledger = shop.ledger()
    check_saga(ledger, "happy", result.status, result.context)
    check_global(ledger, before)
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert set(OutboxEvent.objects.values_list("event_type", flat=True)) == {
        "payment.processed",
        "order.created",
    }


def test_inactive_user_fails_at_the_first_step_with_nothing_to_undo(shop):
    """An inactive user: FAILED after one attempt, no reservation, no payment."""
    before = on_hand(shop)
    result = process_order_request(shop.user(active=False), two_items(), VISA, saga_id="inactive")
    assert result.status == "failed"
    assert trail("inactive") == [("validate_user", "action", "rejected")]
    ledger = shop.ledger()
    assert ledger.for_saga("inactive") == ([], [], [])
    check_global(ledger, before)


def test_out_of_stock_after_a_partial_reservation_releases_what_was_held(shop):
    """The second item is sold out: the first item's reservation is released; no charge."""
    before = on_hand(shop)
    items = [
        {"product_id": WIDGET_ID, "quantity": 3},
        {"product_id": SOLD_OUT_ID, "quantity": 1},
    ]
    result = process_order_request(shop.user(), items, VISA, saga_id="partial")
    assert result.status == "compensated"
    assert trail("partial")[-2:] == [
        ("reserve_inventory", "action", "rejected"),
        ("reserve_inventory", "compensation", "succeeded"),
    ]
    ledger = shop.ledger()
    reservations, payments, _ = ledger.for_saga("partial")
    assert [(r["product_id"], r["status"]) for r in reservations] == [(WIDGET_ID, "released")]
    assert payments == []
    check_global(ledger, before)


def test_declined_payment_releases_stock_in_reverse_and_charges_nothing(shop):
    """A 402 is not retried; the payment undo is a no-op, then both reservations go back."""
    before = on_hand(shop)
    result = process_order_request(shop.user(), two_items(), "tok_declined", saga_id="declined")
    assert result.status == "compensated"
    assert [s for s, d, st in trail("declined") if s == "process_payment"] == [
        "process_payment",
        "process_payment",
    ]
    assert undo_order("declined") == ["process_payment", "reserve_inventory"]
    ledger = shop.ledger()
    check_saga(ledger, "declined", result.status, result.context)
    assert ledger.for_saga("declined")[1] == []
    check_global(ledger, before)


def test_order_service_500s_refund_the_payment_and_release_the_stock(shop):
    """POST /orders keeps failing with 500: retried, then refund and release, in that order."""
    before = on_hand(shop)
    shop.faults("orders").add(method="POST", path="/orders", kind="error", status=500, times=0)
    result = process_order_request(shop.user(), two_items(), VISA, saga_id="orders500")
    assert result.status == "compensated"
    attempts = [st for s, d, st in trail("orders500") if s == "create_order" and d == "action"]
    assert attempts == ["failed"] * 5
    assert undo_order("orders500") == ["create_order", "process_payment", "reserve_inventory"]
    ledger = shop.ledger()
    check_saga(ledger, "orders500", result.status, result.context)
    _, payments, orders = ledger.for_saga("orders500")
    assert [p["status"] for p in payments] == ["refunded"]
    assert orders == []
    check_global(ledger, before)
    assert "payment.refunded" in set(OutboxEvent.objects.values_list("event_type", flat=True))


def test_failed_confirmation_cancels_the_order_refunds_and_releases(shop):
    """The e-mail cannot be sent: the order is cancelled, the payment refunded, stock back."""
    before = on_hand(shop)
    with override_settings(EMAIL_BACKEND="tests.shop.failing_email.EmailBackend"):
        result = process_order_request(shop.user(), two_items(), VISA, saga_id="nomail")
    assert result.status == "compensated"
    assert undo_order("nomail") == ["create_order", "process_payment", "reserve_inventory"]
    ledger = shop.ledger()
    check_saga(ledger, "nomail", result.status, result.context)
    _, payments, orders = ledger.for_saga("nomail")
    assert [o["status"] for o in orders] == ["cancelled"]
    assert [p["status"] for p in payments] == ["refunded"]
    check_global(ledger, before)
    events = list(OutboxEvent.objects.order_by("id").values_list("event_type", flat=True))
    assert events == ["payment.processed", "order.created", "order.cancelled", "payment.refunded"]


def test_payment_applied_but_response_lost_is_charged_once(shop):
    """The payment is made but its response is lost: the retry replays it, one charge."""
    before = on_hand(shop)
    shop.faults("payments").add(method="POST", path="/payments", kind="lost_response", times=1)
    result = process_order_request(shop.user(), two_items(), VISA, saga_id="lost")
    assert result.status == "completed"
    assert [(f["remaining"], f["hits"]) for f in shop.faults("payments").list()] == [(0, 1)]
    ledger = shop.ledger()
    check_saga(ledger, "lost", result.status, result.context)
    assert len(ledger.payments) == 1
    check_global(ledger, before)


def test_slow_payment_times_out_then_is_replayed_not_charged_twice(shop, services_settings):
    """The first payment call times out while the service still charges: later attempts meet
    "in flight" then the replay; the saga completes with exactly one charge."""
    conf = saga_conf(services_settings)
    conf["SERVICES"] = {
        name: {**svc, "TIMEOUT": 0.3, "RETRY": {**svc["RETRY"], "TOTAL": 0}}
        for name, svc in conf["SERVICES"].items()
    }
    user_id = shop.user()
    before = on_hand(shop)
    shop.faults("payments").add(method="POST", path="/payments", kind="latency", delay=1.0)
    with override_settings(INTERLINK=conf):
        result = process_order_request(user_id, two_items(), VISA, saga_id="slowpay")
    assert result.status == "completed"
    statuses = [st for s, d, st in trail("slowpay") if s == "process_payment"]
    assert statuses[0] == "failed"
    assert statuses[-1] == "succeeded"
    ledger = shop.ledger()
    check_saga(ledger, "slowpay", result.status, result.context)
    assert len(ledger.payments) == 1
    check_global(ledger, before)


def test_order_step_out_of_time_cancels_the_late_order_and_refunds(shop, services_settings):
    """POST /orders answers after the step's time budget: the saga compensates, and the order
    the service created late is found by replaying its key and cancelled."""
    conf = saga_conf(services_settings, STEP_TIMEOUT=0.5)
    conf["SERVICES"] = {
        name: {**svc, "TIMEOUT": 0.2, "RETRY": {**svc["RETRY"], "TOTAL": 0}}
        for name, svc in conf["SERVICES"].items()
    }
    user_id = shop.user()
    before = on_hand(shop)
    shop.faults("orders").add(method="POST", path="/orders", kind="latency", delay=1.5)
    with override_settings(INTERLINK=conf):
        result = process_order_request(user_id, two_items(), VISA, saga_id="slow-order")
    assert result.status == "compensated"
    assert "step timeout" in result.error
    assert undo_order("slow-order") == ["create_order", "process_payment", "reserve_inventory"]
    ledger = shop.ledger()
    check_saga(ledger, "slow-order", result.status, result.context)
    _, payments, orders = ledger.for_saga("slow-order")
    assert [o["status"] for o in orders] == ["cancelled"]
    assert [p["status"] for p in payments] == ["refunded"]
    check_global(ledger, before)


def test_a_refund_that_waits_for_payments_lets_the_stock_go_first_then_finishes(
    shop, services_settings
):
    """Refunds meet 503s: the refund waits (released, no worker held, no person called) while
    the stock is released; once payments answers, the next run refunds and ends COMPENSATED."""
    before = on_hand(shop)
    payments = shop.faults("payments")
    payments.add(method="POST", path="/payments/{payment_id}/refund", kind="error", times=0)
    conf = saga_conf(services_settings, COMPENSATION_ATTEMPTS=3)
    with (
        override_settings(INTERLINK=conf),
        override_settings(EMAIL_BACKEND="tests.shop.failing_email.EmailBackend"),
    ):
        result = process_order_request(shop.user(), two_items(), VISA, saga_id="waits")
    assert result.status == "compensating"
    execution = SagaExecution.objects.get(saga_id="waits")
    assert (execution.lease_owner, execution.waits) == ("", 1)
    assert execution.not_before is not None
    reservations, pays, _ = shop.ledger().for_saga("waits")
    assert [p["status"] for p in pays] == ["captured"]
    assert {r["status"] for r in reservations} == {"released"}
    payments.clear()
    SagaExecution.objects.filter(saga_id="waits").update(not_before=timezone.now())
    with override_settings(INTERLINK=conf):
        (again,) = saga_resume_stale(owner="worker-2")
    assert again.status == "compensated"
    # The stock went first; the refund came when payments answered.
    assert undo_order("waits") == ["create_order", "reserve_inventory", "process_payment"]
    ledger = shop.ledger()
    check_saga(ledger, "waits", again.status, again.context)
    check_global(ledger, before)


def test_a_refund_refused_for_good_needs_attention_then_operator_retry_finishes(
    shop, services_settings
):
    """A refund the service refuses for good (404): the stock is still released, the saga is
    NEEDS_ATTENTION (never COMPENSATED) naming the refund; the operator's retry finishes it."""
    before = on_hand(shop)
    payments = shop.faults("payments")
    payments.add(
        method="POST", path="/payments/{payment_id}/refund", kind="error", status=404, times=0
    )
    with override_settings(EMAIL_BACKEND="tests.shop.failing_email.EmailBackend"):
        result = process_order_request(shop.user(), two_items(), VISA, saga_id="stuck")
    assert result.status == "needs_attention"
    assert "compensation of process_payment failed" in result.error
    reservations, pays, _ = shop.ledger().for_saga("stuck")
    assert [p["status"] for p in pays] == ["captured"]
    assert {r["status"] for r in reservations} == {"released"}
    payments.clear()
    again = saga_retry_compensation(saga_id="stuck")
    assert again.status == "compensated"
    assert undo_order("stuck") == ["create_order", "reserve_inventory", "process_payment"]
    ledger = shop.ledger()
    check_saga(ledger, "stuck", again.status, again.context)
    check_global(ledger, before)


def test_malformed_payment_response_is_not_trusted_and_the_charge_is_refunded(shop):
    """A 2xx that breaks the contract is not retried: the undo replays the call under its key,
    learns the payment the service really made, and refunds it."""
    before = on_hand(shop)
    shop.faults("payments").add(method="POST", path="/payments", kind="malformed", times=1)
    result = process_order_request(shop.user(), two_items(), VISA, saga_id="malformed")
    assert result.status == "compensated"
    assert "ContractViolation" in result.error
    assert undo_order("malformed") == ["process_payment", "reserve_inventory"]
    ledger = shop.ledger()
    _, payments, orders = ledger.for_saga("malformed")
    assert [p["status"] for p in payments] == ["refunded"]
    assert orders == []
    check_global(ledger, before)


@pytest.mark.parametrize(
    ("service", "path", "step"),
    [("payments", "/payments", "process_payment"), ("orders", "/orders", "create_order")],
    ids=["payments", "orders"],
)
@pytest.mark.parametrize("kind", ["lost_response", "malformed"])
def test_an_effect_found_by_replay_is_announced_before_its_undo(shop, kind, service, path, step):
    """POST /payments or /orders is applied but its answer is lost or malformed on every try of
    the action: the undo finds the effect by replaying the call, and the outbox announces it,
    once and under the action's event id, before announcing its undo."""
    before = on_hand(shop)
    saga_id = f"{kind}-{service}"
    faults = shop.faults(service)
    faults.add(method="POST", path=path, kind=kind, times=0)
    with lifted_at(f"before_compensation:{step}", faults):
        result = process_order_request(shop.user(), two_items(), VISA, saga_id=saga_id)
    assert result.status == "compensated"
    assert undo_order(saga_id)[0] == step
    ledger = shop.ledger()
    check_saga(ledger, saga_id, result.status, result.context)
    _, payments, orders = ledger.for_saga(saga_id)
    assert [p["status"] for p in payments] == ["refunded"]
    assert [o["status"] for o in orders] == (["cancelled"] if service == "orders" else [])
    check_events(ledger, saga_id)
    check_global(ledger, before)
