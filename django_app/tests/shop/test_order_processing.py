"""OrderProcessingSaga against the four stubs on real sockets (SQLite): outcomes and undo."""

from __future__ import annotations

import socket

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from django_interlink.models import OutboxEvent, SagaExecution, SagaStepLog
from django_interlink.sagas.crash import installed
from django_interlink.sagas.definition import SagaDefinition, SagaStep
from django_interlink.sagas.mermaid import saga_to_mermaid
from django_interlink.sagas.services import saga_execute, saga_resume, saga_retry_compensation
from mock_services.inventory.store import GADGET_ID, SOLD_OUT_ID, WIDGET_ID
from shop.order_processing import ORDER_PROCESSING, process_order_request
from shop.order_steps import process_payment, refund_payment

from .support import (
    GADGET_PRICE,
    WIDGET_PRICE,
    check_events,
    check_saga,
    lifted_at,
    two_items,
)

# The calls whose effect the saga announces: service -> (path, step).
ANNOUNCED_CALLS = {
    "payments": ("/payments", "process_payment"),
    "orders": ("/orders", "create_order"),
}

pytestmark = pytest.mark.django_db


def test_happy_path_places_the_order_charges_once_and_emails(shop):
    """All steps succeed: stock reserved, one payment, a pending order, one e-mail, events."""
    user_id = shop.user()
    before = shop.stock()
    result = process_order_request(user_id, two_items(), {"type": "card", "token": "tok_visa"})
    assert result.status == "completed"
    order = shop.orders.get_order(order_id=result.context["order_id"])
    assert order["total_amount"] == 2 * WIDGET_PRICE + GADGET_PRICE
    payment = shop.payments.get_payment(payment_id=order["payment_id"])
    assert (payment["amount"], payment["status"]) == (order["total_amount"], "captured")
    after = shop.stock()
    assert after[WIDGET_ID] == (before[WIDGET_ID][0], before[WIDGET_ID][1] + 2)
    assert after[GADGET_ID] == (before[GADGET_ID][0], before[GADGET_ID][1] + 1)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.com"]
    assert order["id"] in mail.outbox[0].subject
    types = list(OutboxEvent.objects.values_list("event_type", flat=True).order_by("id"))
    assert types == ["payment.processed", "order.created"]
    check_saga(shop.ledger(), result.saga_id, result.status, result.context)


def test_declined_card_releases_every_reservation_and_charges_nothing(shop):
    """A 402 is not retried; both reservations are released, newest first; no order exists."""
    user_id = shop.user()
    before = shop.stock()
    result = process_order_request(user_id, two_items(), "tok_declined")
    assert result.status == "compensated"
    assert "payment declined" in result.error
    assert shop.stock() == before
    steps = list(SagaStepLog.objects.values_list("step_name", "direction", "status").order_by("id"))
    assert steps == [
        ("validate_user", "action", "succeeded"),
        ("reserve_inventory", "action", "succeeded"),
        ("process_payment", "action", "rejected"),
        ("process_payment", "compensation", "succeeded"),
        ("reserve_inventory", "compensation", "succeeded"),
    ]
    assert shop.orders.get_user_orders(user_id=user_id)["count"] == 0
    assert mail.outbox == []
    check_saga(shop.ledger(), result.saga_id, result.status, result.context)


def test_partial_reservation_is_undone(shop):
    """The second item is sold out: the first item's reservation is released."""
    user_id = shop.user()
    before = shop.stock()
    items = [
        {"product_id": WIDGET_ID, "quantity": 3},
        {"product_id": SOLD_OUT_ID, "quantity": 1},
    ]
    result = process_order_request(user_id, items, "tok_visa")
    assert result.status == "compensated"
    assert "not enough stock" in result.error
    assert shop.stock() == before
    reservation = result.context["reservations"]["0"]
    assert shop.inventory.get_reservation(reservation_id=reservation["id"])["status"] == "released"
    check_saga(shop.ledger(), result.saga_id, result.status, result.context)


def test_inactive_user_fails_without_touching_anything(shop):
    """An inactive user stops the saga at the first step: FAILED, no reservation, no charge."""
    user_id = shop.user(active=False)
    before = shop.stock()
    result = process_order_request(user_id, two_items(), "tok_visa")
    assert result.status == "failed"
    assert "not active" in result.error
    assert shop.stock() == before
    assert SagaStepLog.objects.count() == 1
    check_saga(shop.ledger(), result.saga_id, result.status, result.context)


def test_same_saga_id_returns_the_first_outcome(shop):
    """Calling again with the same saga_id places no second order."""
    user_id = shop.user()
    first = process_order_request(user_id, two_items(), "tok_visa", saga_id="order-42")
    second = process_order_request(user_id, two_items(), "tok_visa", saga_id="order-42")
    assert second == first
    assert shop.orders.get_user_orders(user_id=user_id)["count"] == 1
    assert SagaExecution.objects.count() == 1


def test_definition_renders_as_mermaid():
    """The order saga's diagram names every step, its undo and the four end states."""
    source = saga_to_mermaid(ORDER_PROCESSING)
    assert source.startswith("flowchart TD\n")
    for name in ("validate_user", "reserve_inventory", "process_payment", "create_order"):
        assert f'["{name}"]' in source
    assert 'c3["undo create_order"]' in source
    assert "a0 -. fails .-> failed" in source
    assert "a4 -. fails .-> c3" in source
    assert "c1 --> compensated" in source
    assert "c2 -. fails for good .-> needs_attention" in source
    assert "c2 -. waits .-> c1" in source
    assert "wait -. when due .-> c2" in source


def test_discovery_routes_calls_through_the_registry_past_a_dead_instance(shop, saga_settings):
    """With DISCOVERY on, the saga's clients find the services in the registry and fail over
    from an instance that refuses connections to a live one."""
    import socket

    from django.test import override_settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    conf = dict(saga_settings)
    conf["REGISTRY"] = {
        "BACKEND": "static",
        "STRATEGY": "round_robin",
        "INSTANCES": {n: [dead, c["BASE_URL"]] for n, c in conf["SERVICES"].items()},
    }
    # BASE_URL is dead too: only the registry knows where the services are.
    conf["SERVICES"] = {
        n: {**c, "DISCOVERY": True, "BASE_URL": dead} for n, c in conf["SERVICES"].items()
    }
    user_id = shop.user()
    with override_settings(INTERLINK=conf):
        result = process_order_request(user_id, two_items(), "tok_visa")
    assert result.status == "completed"
    assert shop.orders.get_order(order_id=result.context["order_id"])["status"] == "pending"


@pytest.mark.parametrize("lasts", ["once", "every_action_try"])
@pytest.mark.parametrize("service", sorted(ANNOUNCED_CALLS))
@pytest.mark.parametrize("kind", ["lost_response", "malformed"])
def test_the_outbox_announces_what_the_services_hold_and_undoes_only_what_it_announced(
    shop, kind, service, lasts
):
    """POST /payments or /orders is applied but its answer is lost or malformed, once or on
    every try of the action, and the saga fails (at that step, or at the e-mail): the outbox
    holds one event per payment and order made, and each undo event after the one it undoes."""
    path, step = ANNOUNCED_CALLS[service]
    saga_id = f"{kind}-{service}-{lasts}"
    faults = shop.faults(service)
    faults.add(method="POST", path=path, kind=kind, times=1 if lasts == "once" else 0)
    with (
        lifted_at(f"before_compensation:{step}", faults),
        override_settings(EMAIL_BACKEND="tests.shop.failing_email.EmailBackend"),
    ):
        result = process_order_request(shop.user(), two_items(), "tok_visa", saga_id=saga_id)
    assert result.status == "compensated"
    ledger = shop.ledger()
    check_saga(ledger, saga_id, result.status, result.context)
    assert [p["status"] for p in ledger.for_saga(saga_id)[1]] == ["refunded"]
    check_events(ledger, saga_id)


def test_a_charge_found_by_replay_is_announced_while_its_refund_waits(shop, saga_settings):
    """The undo learns of the charge by replaying the malformed call, then every refund meets
    a 503: the charge is announced at once, the stock is released while the refund waits, and
    the refund comes when payments is back, each once."""
    before = shop.stock()
    payments = shop.faults("payments")
    payments.add(method="POST", path="/payments", kind="malformed")
    payments.add(method="POST", path="/payments/{payment_id}/refund", kind="error", times=0)
    result = process_order_request(shop.user(), two_items(), "tok_visa", saga_id="stuck")
    assert result.status == "compensating"  # waiting for the refund, holding no worker
    ledger = shop.ledger()
    assert [p["status"] for p in ledger.for_saga("stuck")[1]] == ["captured"]
    assert {r["status"] for r in ledger.for_saga("stuck")[0]} == {"released"}
    assert shop.stock() == before
    check_events(ledger, "stuck")
    payments.clear()
    SagaExecution.objects.filter(saga_id="stuck").update(not_before=timezone.now())
    assert saga_resume(saga_id="stuck").status == "compensated"
    ledger = shop.ledger()
    assert [p["status"] for p in ledger.for_saga("stuck")[1]] == ["refunded"]
    check_events(ledger, "stuck")


def test_a_refund_refused_for_good_needs_a_person_and_is_retried_by_one(shop, saga_settings):
    """A refund the service refuses for good (404) calls a person after the stock is released;
    the operator's retry refunds once the cause is fixed."""
    payments = shop.faults("payments")
    payments.add(method="POST", path="/payments", kind="malformed")
    payments.add(
        method="POST", path="/payments/{payment_id}/refund", kind="error", status=404, times=0
    )
    result = process_order_request(shop.user(), two_items(), "tok_visa", saga_id="refused")
    assert result.status == "needs_attention"
    assert "compensation of process_payment failed" in result.error
    ledger = shop.ledger()
    assert {r["status"] for r in ledger.for_saga("refused")[0]} == {"released"}
    payments.clear()
    assert saga_retry_compensation(saga_id="refused").status == "compensated"
    assert [p["status"] for p in shop.ledger().for_saga("refused")[1]] == ["refunded"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_payment_our_own_contract_refuses_is_undone_at_once(shop, saga_settings):
    """An amount over payments.yaml's maximum (the door refuses such orders now: this is a gap
    between two contracts, met anyway): the client refuses to send it, so nothing was charged;
    the refund sends nothing and the saga ends COMPENSATED, without a replay loop or a person."""
    definition = SagaDefinition(
        "over_max_payment",
        [
            SagaStep("process_payment", process_payment, compensation=refund_payment),
            SagaStep("ship", _rejected),
        ],
    )
    context = {
        "user_id": shop.user(),
        "total_amount": 10_100_000_000,
        "currency": "USD",
        "card_token": "tok_visa",
    }
    result = saga_execute(definition=definition, saga_id="over-max", context=context)
    assert result.status == "compensated"
    assert "ContractViolation" in result.error
    assert result.context["payment"] == {"state": "absent"}
    assert shop.stubs["payments"].requests(method="POST", path="/payments") == []
    assert shop.ledger().for_saga("over-max")[1] == []


def _rejected(ctx) -> None:
    raise AssertionError("never reached: the payment step fails first")


def test_payments_refusing_connections_is_undone_without_a_person(shop, saga_settings):
    """Payments down (nothing listens on its port): the charge never arrived, so it is ABSENT,
    the refund has nothing to replay and the stock is released; no NEEDS_ATTENTION, and no
    charge appears when payments is back."""
    before = shop.stock()
    conf = dict(saga_settings)
    conf["SERVICES"] = {
        **saga_settings["SERVICES"],
        "payments": {
            **saga_settings["SERVICES"]["payments"],
            "BASE_URL": f"http://127.0.0.1:{_closed_port()}",
        },
    }
    with override_settings(INTERLINK=conf):
        result = process_order_request(shop.user(), two_items(), "tok_visa", saga_id="pay-down")
    assert result.status == "compensated"
    assert result.context["payment"] == {"state": "absent"}
    assert shop.stock() == before
    reservations, payments, _ = shop.ledger().for_saga("pay-down")
    assert ({r["status"] for r in reservations}, payments) == ({"released"}, [])
    check_events(shop.ledger(), "pay-down")


class Killed(BaseException):
    """The worker dies here (a BaseException: nothing in the engine catches it)."""


def test_a_charge_a_crash_left_unrecorded_is_refunded_when_payments_was_down_on_resume(
    shop, saga_settings
):
    """The worker dies after the charge, before saving it; the saga is resumed while payments
    refuses connections. The charge may have been made (it was), so the saga must not take it
    as never made: it waits for payments, then refunds it."""

    def die_after_the_charge(point: str) -> None:
        if point == "after_action:process_payment":
            raise Killed(point)

    with installed(die_after_the_charge), pytest.raises(Killed):
        process_order_request(shop.user(), two_items(), "tok_visa", saga_id="cut-short")
    assert [p["status"] for p in shop.ledger().for_saga("cut-short")[1]] == ["captured"]
    SagaExecution.objects.filter(saga_id="cut-short").update(lease_expires_at=None)  # lapsed
    with shop.stubs["payments"].stopped():
        resumed = saga_resume(saga_id="cut-short")
        # Until payments answers, the undo cannot know whether the card was charged.
        assert resumed.status == "compensating"
    SagaExecution.objects.filter(saga_id="cut-short").update(not_before=timezone.now())
    assert saga_resume(saga_id="cut-short").status == "compensated"
    ledger = shop.ledger()
    assert [p["status"] for p in ledger.for_saga("cut-short")[1]] == ["refunded"]
    check_events(ledger, "cut-short")


def test_items_never_sent_are_not_replayed_by_the_release(shop, saga_settings):
    """The registry has no inventory instance: the first reservation never leaves, so the
    second was never sent either. The release has nothing to replay: the saga compensates at
    once, and inventory never sees a reservation of the second item."""
    conf = dict(saga_settings)
    conf["REGISTRY"] = {**conf.get("REGISTRY", {}), "INSTANCES": {"inventory": []}}
    conf["SERVICES"] = {n: {**c, "DISCOVERY": True} for n, c in conf["SERVICES"].items()}
    user_id = shop.user()
    with override_settings(INTERLINK=conf):
        result = process_order_request(user_id, two_items(), "tok_visa", saga_id="never-sent")
    sent = shop.stubs["inventory"].requests(method="POST", path="/reservations")
    assert (result.status, sent) == ("compensated", [])
