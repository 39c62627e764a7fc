"""Start a choreographed checkout, find the ones that stopped moving, word the confirmation.

Starting is the only thing the shop does itself: the checkout row and its first event commit in
one transaction (`outbox_enqueue` inside `transaction.atomic()`); the participants
(participants.py) take it from there.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from django_interlink.events.outbox import outbox_enqueue

from ..models import Checkout, CheckoutStatus
from ..order_processing import build_order_context

__all__ = ["CHECKOUT_ENDS", "checkout_start", "checkout_stuck", "confirmation_mail"]

# Statuses no participant moves on from.
CHECKOUT_ENDS = frozenset(
    {CheckoutStatus.COMPLETED, CheckoutStatus.COMPENSATED, CheckoutStatus.FAILED}
)


def checkout_start(
    *,
    user_id: str,
    items: list[dict[str, Any]],
    payment_method: dict[str, Any] | str,
    currency: str = "USD",
    checkout_id: str | uuid.UUID | None = None,
) -> Checkout:
    """Record the checkout and enqueue checkout.requested, together; returns the row.

    The same `checkout_id` twice returns the first row and enqueues nothing new (the event's id
    is derived from the checkout's).
    """
    context = build_order_context(
        user_id=user_id, items=items, payment_method=payment_method, currency=currency
    )
    checkout_uuid = uuid.UUID(str(checkout_id)) if checkout_id else uuid.uuid4()
    with transaction.atomic():
        checkout, created = Checkout.objects.get_or_create(
            checkout_id=checkout_uuid,
            defaults={
                "user_id": context["user_id"],
                "items": context["items"],
                "currency": context["currency"],
                "card_token": context["card_token"],
            },
        )
        if created:
            outbox_enqueue(
                "checkout.requested",
                {
                    "checkout_id": str(checkout_uuid),
                    "user_id": context["user_id"],
                    "items": [
                        {"product_id": i["product_id"], "quantity": i["quantity"]}
                        for i in context["items"]
                    ],
                    "currency": context["currency"],
                },
                correlation_id=str(checkout_uuid),
                producer="checkout.shop",
                event_id=uuid.uuid5(checkout_uuid, "checkout.requested"),
            )
    return checkout


def checkout_stuck(*, quiet_for: timedelta) -> QuerySet[Checkout]:
    """Checkouts not finished and not moved for `quiet_for`, oldest first: with no orchestrator
    to ask, the row's status says which event is waiting for which participant."""
    cutoff = timezone.now() - quiet_for
    return (
        Checkout.objects.exclude(status__in=CHECKOUT_ENDS)
        .filter(updated_at__lt=cutoff)
        .order_by("updated_at")
    )


def confirmation_mail(checkout: Checkout, customer: dict[str, str]) -> dict[str, Any]:
    """send_mail's arguments for the confirmation of a placed checkout."""
    total = int(checkout.total_amount or 0)
    lines = [
        f"Hello {customer['name']},",
        "",
        f"your order {checkout.order_id} is confirmed.",
        "",
        *(f"  {item['quantity']} x {item['product_id']}" for item in checkout.items),
        "",
        f"Total: {total // 100}.{total % 100:02d} {checkout.currency}",
    ]
    return {
        "subject": f"Order {checkout.order_id} confirmed",
        "message": "\n".join(lines),
        "from_email": settings.DEFAULT_FROM_EMAIL,
        "recipient_list": [customer["email"]],
    }
