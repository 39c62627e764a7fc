"""The order-processing saga: validate the user, reserve stock item by item, charge, place the
order, send the confirmation e-mail; undo in reverse when a step fails.

The definition and its retry policy come first; the steps, with the service calls and events
they build, are in `order_steps.py`.
"""

from __future__ import annotations

import uuid
from typing import Any

from django_interlink.sagas.definition import RetryPolicy, SagaDefinition, SagaStep
from django_interlink.sagas.services import SagaResult, saga_execute

from .order_steps import (
    cancel_order,
    create_order,
    process_payment,
    refund_payment,
    release_inventory,
    reserve_inventory,
    send_confirmation,
    validate_user,
)

__all__ = ["ORDER_PROCESSING", "build_order_context", "process_order_request"]

SAGA_TYPE = "order_processing"

# Reservations and payments may meet "still in flight" 409s after a timeout: be patient.
PATIENT = RetryPolicy(attempts=5, backoff=0.1, backoff_max=1.0)

ORDER_PROCESSING = SagaDefinition(
    SAGA_TYPE,
    [
        SagaStep("validate_user", validate_user, description="GET /users/{id}: active?"),
        SagaStep(
            "reserve_inventory",
            reserve_inventory,
            compensation=release_inventory,
            retry=PATIENT,
            description="POST /reservations per item",
        ),
        SagaStep(
            "process_payment",
            process_payment,
            compensation=refund_payment,
            retry=PATIENT,
            description="POST /payments",
        ),
        SagaStep(
            "create_order",
            create_order,
            compensation=cancel_order,
            retry=PATIENT,
            description="POST /orders",
        ),
        SagaStep(
            "send_confirmation",
            send_confirmation,
            retry=RetryPolicy(attempts=3, backoff=0.2, is_retryable=lambda exc: True),
            description="e-mail through Django",
        ),
    ],
    description="Place an order across users, inventory, payments and orders.",
)


def process_order_request(
    user_id: str,
    items: list[dict[str, Any]],
    payment_method: dict[str, Any] | str,
    *,
    currency: str = "USD",
    saga_id: str | None = None,
) -> SagaResult:
    """Place an order: build the saga context and run the saga to its end.

    Pass a `saga_id` (e.g. derived from the client's request) to make the request itself
    idempotent: a second call with the same id returns the first outcome.
    """
    context = build_order_context(
        user_id=user_id, items=items, payment_method=payment_method, currency=currency
    )
    return saga_execute(
        definition=ORDER_PROCESSING, saga_id=saga_id or str(uuid.uuid4()), context=context
    )


def build_order_context(
    *,
    user_id: str,
    items: list[dict[str, Any]],
    payment_method: dict[str, Any] | str,
    currency: str = "USD",
) -> dict[str, Any]:
    """The saga's starting context: inputs normalised. No amount yet: the prices are the
    catalogue's, recorded when the units are reserved (`reserve_inventory` sets total_amount).

    An item's `unit_price`, when given, is the price the buyer saw (deprecated in the orders
    API): the saga refuses the order if the catalogue's differs.
    """
    token = payment_method if isinstance(payment_method, str) else payment_method["token"]
    clean: list[dict[str, Any]] = []
    for item in items:
        entry: dict[str, Any] = {
            "product_id": str(item["product_id"]),
            "quantity": int(item["quantity"]),
        }
        if item.get("unit_price") is not None:
            entry["unit_price"] = int(item["unit_price"])
        clean.append(entry)
    if not clean:
        raise ValueError("an order needs at least one item")
    return {"user_id": str(user_id), "items": clean, "currency": currency, "card_token": token}
