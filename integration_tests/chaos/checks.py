"""The end state a chaos run must reach once its faults have cleared: every saga ended clean,
the stubs' ledgers balance, the outbox tells what the services hold, and no card was charged
by an undo's replay (a charge made only to be refunded); on the cluster, every event published
and handled exactly once."""

from __future__ import annotations

from django.db.models import Sum
from tests.shop.support import Ledger, check_events, check_global, check_saga

from django_interlink.models import (
    InboxEvent,
    OutboxEvent,
    OutboxStatus,
    SagaExecution,
    SagaStepLog,
)
from mock_services.testing import StubServer
from shop.models import OrderStatistics

from .handlers import EFFECT_CURRENCY, applications, handler_name

CLEAN = {"completed", "compensated"}
SHOP_ORDER_HANDLER = "orders.statistics_and_stock_check"


def check_charges_made_going_forward(ledger: Ledger, payments: StubServer) -> None:
    """Every payment was first asked for by the saga's forward step: its first POST arrived
    before the saga began to undo. A charge first asked for by an undo's replay would be one
    the action never made, charged only to be refunded."""
    first_asked: dict[str, float] = {}
    for r in payments.requests(method="POST", path="/payments"):
        first_asked.setdefault(r["idempotency_key"] or "", r["received_at"])
    for payment in ledger.payments:
        saga_id = payment["order_reference"]
        undo = (
            SagaStepLog.objects.filter(execution__saga_id=saga_id, direction="compensation")
            .order_by("started_at")
            .first()
        )
        if undo is None:
            continue
        asked = first_asked[f"{saga_id}:process_payment:action"]
        assert (saga_id, asked < undo.started_at.timestamp()) == (saga_id, True)


def check_run(ledger: Ledger, payments: StubServer, on_hand: dict[str, int]) -> None:
    executions = list(SagaExecution.objects.order_by("saga_id"))
    assert {e.saga_id: e.status for e in executions if e.status not in CLEAN} == {}
    for execution in executions:
        check_saga(ledger, execution.saga_id, execution.status, execution.context_data)
        check_events(ledger, execution.saga_id)
    check_global(ledger, on_hand)
    check_charges_made_going_forward(ledger, payments)


def check_events_handled_once() -> None:
    """Every outbox event was published and handled exactly once (the cluster run): every row
    sent; each event's inbox row for its chaos handler, and that handler's effect counted once,
    with no effect of an event the outbox never held; the shop's order.created handler applied
    each order once (its per-buyer counts add up to the orders announced)."""
    rows = list(OutboxEvent.objects.values_list("event_id", "event_type", "status"))
    assert {status for _, _, status in rows} <= {OutboxStatus.SENT}
    expected = {str(event_id): 1 for event_id, _, _ in rows}
    assert applications() == expected  # none lost, none twice, none unknown
    inbox = set(InboxEvent.objects.values_list("event_id", "handler"))
    for event_id, event_type, _ in rows:
        assert (event_id, handler_name(event_type)) in inbox, (event_id, event_type)
    orders = [event_id for event_id, event_type, _ in rows if event_type == "order.created"]
    shop_rows = InboxEvent.objects.filter(handler=SHOP_ORDER_HANDLER)
    assert sorted(map(str, shop_rows.values_list("event_id", flat=True))) == sorted(
        map(str, orders)
    )
    counted = OrderStatistics.objects.exclude(currency=EFFECT_CURRENCY).aggregate(
        n=Sum("order_count")
    )["n"]
    assert (counted or 0) == len(orders)
