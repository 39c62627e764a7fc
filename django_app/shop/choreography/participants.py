"""The order flow choreographed: no orchestrator. Each participant reacts to one event, calls its
service (in the handler's `prepare` step, calls.py) and publishes the next event; a failure
publishes the event that makes the participants before it undo their part.

    on event                    participant    calls                         then publishes
    checkout.requested          customer       GET /users/{id}               customer_verified
                                                                             | customer_rejected
    checkout.customer_verified  inventory      POST /reservations per item   stock_reserved
                                                                             | stock_refused
    checkout.stock_reserved     payments       POST /payments                payment_captured
                                                                             | payment_failed
    checkout.payment_captured   orders         POST /orders                  order_placed
                                                                             | order_failed
    checkout.order_placed       notification   GET /users/{id}, e-mail       (completed)
    checkout.order_failed       payments       POST /payments/{id}/refund    payment_refunded
    checkout.payment_failed,    inventory      POST /reservations/{id}/      stock_released
    checkout.payment_refunded                  release                       (compensated)

Each handler runs in the inbox transaction (events/inbox.py): the checkout row's new status, the
inbox row and the next event's outbox row commit together or not at all. The next event's id is
derived from the one handled, so a handler run again after a crash enqueues the same event.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.mail import send_mail

from django_interlink.events.crash import crash_point
from django_interlink.events.envelope import Envelope
from django_interlink.events.handlers import HandlerRegistry
from django_interlink.events.outbox import outbox_enqueue
from django_interlink.exceptions import PermanentHandlerError

from ..models import Checkout, CheckoutStatus
from .calls import (
    Verdict,
    charge,
    customer_of,
    place_order,
    refund,
    release_reserved,
    reserve_stock,
    verify_customer,
)
from .services import confirmation_mail

__all__ = ["registry"]

S = CheckoutStatus
registry = HandlerRegistry()


@registry.handler("checkout.requested", name="checkout.customer", prepare=verify_customer)
def on_requested(envelope: Envelope, verdict: Verdict) -> None:
    user_id = envelope.data["user_id"]
    if verdict.ok:
        _move(envelope, "customer", S.REQUESTED, S.CUSTOMER_VERIFIED)
        _publish(envelope, "customer", "checkout.customer_verified", user_id=user_id)
    else:
        _move(envelope, "customer", S.REQUESTED, S.FAILED, error=verdict.reason)
        _publish(
            envelope,
            "customer",
            "checkout.customer_rejected",
            user_id=user_id,
            reason=verdict.reason,
        )


@registry.handler(
    "checkout.customer_verified", name="checkout.inventory.reserve", prepare=reserve_stock
)
def on_customer_verified(envelope: Envelope, verdict: Verdict) -> None:
    if not verdict.ok:  # the participant released what it had reserved before the refusal
        _move(envelope, "inventory", S.CUSTOMER_VERIFIED, S.COMPENSATED, error=verdict.reason)
        _publish(envelope, "inventory", "checkout.stock_refused", reason=verdict.reason)
        return
    reservations = verdict.answer["reservations"]
    total, currency = verdict.answer["total_amount"], verdict.answer["currency"]
    _move(
        envelope,
        "inventory",
        S.CUSTOMER_VERIFIED,
        S.STOCK_RESERVED,
        reservations=reservations,
        total_amount=total,
    )
    _publish(
        envelope,
        "inventory",
        "checkout.stock_reserved",
        reservation_ids=[str(r["id"]) for r in reservations],
        total_amount=total,
        currency=currency,
    )


@registry.handler("checkout.stock_reserved", name="checkout.payments.charge", prepare=charge)
def on_stock_reserved(envelope: Envelope, verdict: Verdict) -> None:
    if not verdict.ok:
        _move(envelope, "payments", S.STOCK_RESERVED, S.COMPENSATING, error=verdict.reason)
        _publish(envelope, "payments", "checkout.payment_failed", reason=verdict.reason)
        return
    payment = verdict.answer
    _move(envelope, "payments", S.STOCK_RESERVED, S.PAID, payment_id=payment["payment_id"])
    _publish(envelope, "payments", "checkout.payment_captured", **payment)


@registry.handler("checkout.payment_captured", name="checkout.orders.place", prepare=place_order)
def on_payment_captured(envelope: Envelope, verdict: Verdict) -> None:
    if not verdict.ok:
        _move(envelope, "orders", S.PAID, S.COMPENSATING, error=verdict.reason)
        _publish(envelope, "orders", "checkout.order_failed", reason=verdict.reason)
        return
    order = verdict.answer
    _move(envelope, "orders", S.PAID, S.PLACED, order_id=order["order_id"])
    _publish(envelope, "orders", "checkout.order_placed", **order)


@registry.handler(
    "checkout.order_placed", name="checkout.notification.confirm", prepare=customer_of
)
def on_order_placed(envelope: Envelope, customer: dict[str, str]) -> None:
    """E-mail the customer, last in the transaction: at least once, never zero times."""
    checkout = _move(envelope, "notification", S.PLACED, S.COMPLETED)
    send_mail(**confirmation_mail(checkout, customer))


@registry.handler("checkout.order_failed", name="checkout.payments.refund", prepare=refund)
def on_order_failed(envelope: Envelope, verdict: Verdict) -> None:
    refunded = verdict.answer
    _move(envelope, "payments", S.COMPENSATING, S.COMPENSATING, refund_id=refunded["refund_id"])
    _publish(envelope, "payments", "checkout.payment_refunded", **refunded)


def on_compensating(envelope: Envelope, verdict: Verdict) -> None:
    """The last undo: the checkout's stock is back, the checkout is compensated."""
    _move(envelope, "inventory", S.COMPENSATING, S.COMPENSATED)
    _publish(envelope, "inventory", "checkout.stock_released", **verdict.answer)


for _event_type, _name in (
    ("checkout.payment_failed", "checkout.inventory.release"),
    ("checkout.payment_refunded", "checkout.inventory.release_after_refund"),
):
    registry.add(_event_type, on_compensating, name=_name, prepare=release_reserved)


# ---------------------------------------------------------------------------------------------
# What every participant does with the checkout row and the next event


def _move(
    envelope: Envelope,
    participant: str,
    expected: CheckoutStatus,
    to: CheckoutStatus,
    **fields: Any,
) -> Checkout:
    """Move the checkout from `expected` to `to` with `fields`, in the inbox transaction, and
    name the participant that moved it last.

    Any other status means an event out of order (a redelivery never gets here: the inbox
    skips it): dead-lettered, not guessed at.
    """
    checkout = Checkout.objects.select_for_update().get(checkout_id=envelope.data["checkout_id"])
    if checkout.status != expected:
        raise PermanentHandlerError(
            f"checkout {checkout.checkout_id} is {checkout.status}; "
            f"{envelope.event_type} needs {expected.value}"
        )
    for name, value in fields.items():
        setattr(checkout, name, value)
    checkout.status = to
    checkout.moved_by = participant
    checkout.save()
    return checkout


def _publish(envelope: Envelope, participant: str, event_type: str, **data: Any) -> None:
    """Enqueue the next event under an id derived from the one handled, then the crash point
    `checkout:<participant>:before_commit` (its call made, nothing committed or acked)."""
    outbox_enqueue(
        event_type,
        {"checkout_id": envelope.data["checkout_id"], **data},
        correlation_id=envelope.correlation_id,
        producer=f"checkout.{participant}",
        event_id=uuid.uuid5(uuid.UUID(envelope.event_id), event_type),
    )
    crash_point(f"checkout:{participant}:before_commit")
