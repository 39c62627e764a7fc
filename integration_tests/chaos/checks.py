"""The end state a chaos run must reach once its faults have cleared: every saga ended clean,
the stubs' ledgers balance, the outbox tells what the services hold, and no card was charged
by an undo's replay (a charge made only to be refunded)."""

from __future__ import annotations

from tests.shop.support import Ledger, check_events, check_global, check_saga

from microservices.models import SagaExecution, SagaStepLog
from mock_services.testing import StubServer

CLEAN = {"completed", "compensated"}


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
