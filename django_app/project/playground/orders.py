"""Place an order from the page: the saga is stored PENDING and left to the worker.

No saga step runs in the request: the worker process claims the saga and runs it.
"""

from __future__ import annotations

import uuid
from typing import Any

from microservices.sagas.services import saga_create
from shop.order_processing import ORDER_PROCESSING, build_order_context

CARDS = {
    "tok_visa": "good card",
    "tok_declined": "declined",
    "tok_insufficient_funds": "insufficient funds",
}


def order_place(*, user_id: str, items: list[dict[str, Any]], card_token: str) -> str:
    """Store the order's saga for the worker; returns its id."""
    saga_id = f"pg-{uuid.uuid4()}"
    context = build_order_context(
        user_id=user_id, items=items, payment_method={"type": "card", "token": card_token}
    )
    saga_create(definition=ORDER_PROCESSING, saga_id=saga_id, context=context)
    return saga_id
