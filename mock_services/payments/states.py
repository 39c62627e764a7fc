"""Provider states of the payments stub, named as the consumer pacts name them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mock_services.common.states import StateHandler
from mock_services.common.store import utcnow
from mock_services.payments.schemas import Payment
from mock_services.payments.store import PaymentsStore


def payment_captured(store: PaymentsStore, params: Mapping[str, Any]) -> None:
    store.seed(
        Payment(
            id=params["id"],
            user_id=params["user_id"],
            order_reference=params.get("order_reference"),
            amount=params["amount"],
            currency=params.get("currency", "USD"),
            status="captured",
            refunded_amount=0,
            created_at=utcnow(),
        )
    )


STATES: dict[str, StateHandler] = {"a captured payment exists": payment_captured}
