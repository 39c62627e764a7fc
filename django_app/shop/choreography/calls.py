"""The participants' service calls, each run in its handler's `prepare` step (before the inbox
transaction, so no row lock is held across HTTP) under an Idempotency-Key derived from the event
being handled: a redelivery, even after the process died between the call and the commit,
replays the stored answer instead of reserving, charging or refunding again.

A call the service answered without doing anything (a 5xx, 408, 429) is counted on the checkout
row; after the orchestrated saga's own patience (`PATIENT.attempts`) the participant gives up and
its handler publishes the failure event that starts the compensation. A call whose outcome is
unknown (a timeout, a lost response) is never given up: it is retried with the same key until
the service answers, and the checkout waits meanwhile (`checkout_stuck` finds it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import transaction

from django_interlink.clients.factory import client_for
from django_interlink.events.envelope import Envelope
from django_interlink.exceptions import (
    PaymentDeclined,
    ResourceConflict,
    ResourceNotFound,
    ServiceHTTPError,
    StepRejected,
    UnprocessableEntity,
)
from django_interlink.http_statuses import nothing_done
from django_interlink.sagas.outcomes import in_flight

from ..clients.inventory import InventoryServiceClient
from ..clients.orders import OrderItem, OrderServiceClient
from ..clients.payments import PaymentServiceClient
from ..clients.users import UserServiceClient
from ..models import Checkout
from ..order_processing import PATIENT
from ..prices import check_price, order_total

__all__ = [
    "Verdict",
    "call_key",
    "charge",
    "checkout_of",
    "customer_of",
    "place_order",
    "refund",
    "release_reserved",
    "release_stock",
    "reserve_stock",
    "verify_customer",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a participant's call came to: `ok` with what the handler records, or why not."""

    ok: bool
    answer: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


class _GaveUp(Exception):
    """The service failed `PATIENT.attempts` times without doing anything: stop asking."""


def call_key(envelope: Envelope, action: str, item: object = None) -> str:
    """The Idempotency-Key of one call made for `envelope`: the same on every redelivery."""
    parts = ["checkout", envelope.event_id, action]
    return ":".join(parts if item is None else [*parts, str(item)])


def checkout_of(envelope: Envelope) -> Checkout:
    return Checkout.objects.get(checkout_id=envelope.data["checkout_id"])


def _patiently(checkout: Checkout, participant: str, call: Callable[[], T]) -> T:
    """`call()`; a failure that did nothing is counted on the row, and raised again until the
    count reaches PATIENT.attempts, then `_GaveUp`. Unknown outcomes are raised, uncounted."""
    try:
        return call()
    except ServiceHTTPError as exc:
        if in_flight(exc) or not nothing_done(exc.status_code or 0):
            raise
        with transaction.atomic():
            row = Checkout.objects.select_for_update().get(pk=checkout.pk)
            row.attempts[participant] = count = int(row.attempts.get(participant, 0)) + 1
            row.save(update_fields=["attempts", "updated_at"])
        if count < PATIENT.attempts:
            raise
        raise _GaveUp(f"{exc.service or participant} failed {count} times: {exc}") from exc


def verify_customer(envelope: Envelope) -> Verdict:
    """checkout.requested: is the user there and active? (GET /users/{id})"""
    checkout = checkout_of(envelope)
    users = client_for(UserServiceClient)
    user_id = str(checkout.user_id)
    try:
        user = _patiently(
            checkout, "customer", lambda: users.get_user(user_id=user_id, use_cache=False)
        )
    except ResourceNotFound:
        return Verdict(False, reason=f"user {user_id} does not exist")
    except _GaveUp as exc:
        return Verdict(False, reason=str(exc))
    if not user["is_active"]:
        return Verdict(False, reason=f"user {user_id} is not active")
    return Verdict(True)


def reserve_stock(envelope: Envelope) -> Verdict:
    """checkout.customer_verified: reserve item by item at the catalogue's price; a refusal
    releases what this delivery reserved before it (the participant undoes its own half)."""
    checkout = checkout_of(envelope)
    inventory = client_for(InventoryServiceClient)
    priced: dict[str, Any] = {"items": checkout.items, "currency": checkout.currency}
    reservations: dict[str, dict[str, Any]] = priced.setdefault("reservations", {})
    for index, item in enumerate(checkout.items):

        def reserve(item: dict[str, Any] = item, index: int = index) -> Any:
            return inventory.reserve_item(
                product_id=item["product_id"],
                quantity=item["quantity"],
                order_reference=str(checkout.checkout_id),
                idempotency_key=call_key(envelope, "reserve", index),
            )

        try:
            made = _patiently(checkout, "inventory", reserve)
            reservations[str(index)] = {
                "id": made["id"],
                "product_id": item["product_id"],
                "quantity": item["quantity"],
                "unit_price": made["unit_price"],
                "currency": made["currency"],
            }
            check_price(priced, index)
        except (ResourceConflict, ResourceNotFound, _GaveUp, StepRejected) as exc:
            if isinstance(exc, ServiceHTTPError) and in_flight(exc):
                raise
            release_stock(envelope, list(reservations.values()))
            return Verdict(False, reason=_refusal(exc, item["product_id"]))
    return Verdict(
        True,
        {
            "reservations": list(reservations.values()),
            "total_amount": order_total(priced),
            "currency": checkout.currency,
        },
    )


def _refusal(exc: Exception, product_id: str) -> str:
    if isinstance(exc, ResourceConflict):
        return f"not enough stock for product {product_id}"
    if isinstance(exc, ResourceNotFound):
        return f"unknown product {product_id}"
    return str(exc)


def release_stock(envelope: Envelope, reservations: list[dict[str, Any]]) -> list[str]:
    """Release `reservations`, newest first; the ids released (one released before counts)."""
    inventory = client_for(InventoryServiceClient)
    released: list[str] = []
    for reservation in reversed(reservations):
        reservation_id = str(reservation["id"])
        try:
            inventory.release_reservation(
                reservation_id=reservation_id,
                idempotency_key=call_key(envelope, "release", reservation_id),
            )
        except ResourceConflict as exc:  # already released: what we wanted
            if in_flight(exc):
                raise
        released.append(reservation_id)
    return released


def charge(envelope: Envelope) -> Verdict:
    """checkout.stock_reserved: charge the total (POST /payments); a 402 is a refusal."""
    checkout = checkout_of(envelope)
    payments = client_for(PaymentServiceClient)
    try:
        payment = _patiently(
            checkout,
            "payments",
            lambda: payments.process_payment(
                user_id=str(checkout.user_id),
                amount=int(envelope.data["total_amount"]),
                currency=checkout.currency,
                card_token=checkout.card_token,
                order_reference=str(checkout.checkout_id),
                idempotency_key=call_key(envelope, "charge"),
            ),
        )
    except PaymentDeclined as exc:
        reason = str(exc.problem.get("type", "")).rsplit("/", 1)[-1] or "declined"
        return Verdict(False, reason=f"payment declined ({reason})")
    except _GaveUp as exc:
        return Verdict(False, reason=str(exc))
    return Verdict(
        True,
        {"payment_id": payment["id"], "amount": payment["amount"], "currency": payment["currency"]},
    )


def refund(envelope: Envelope) -> Verdict:
    """checkout.order_failed: refund the charge. A compensation never gives up: it is retried
    until the service takes it (a refund already made is replayed under its key)."""
    checkout = checkout_of(envelope)
    made = client_for(PaymentServiceClient).refund_payment(
        payment_id=str(checkout.payment_id), idempotency_key=call_key(envelope, "refund")
    )
    return Verdict(
        True,
        {
            "payment_id": made["payment_id"],
            "refund_id": made["id"],
            "amount": made["amount"],
            "currency": made["currency"],
        },
    )


def place_order(envelope: Envelope) -> Verdict:
    """checkout.payment_captured: create the order (POST /orders) with the reserved prices."""
    checkout = checkout_of(envelope)
    items: list[OrderItem] = [
        {
            "product_id": r["product_id"],
            "quantity": r["quantity"],
            "unit_price": r["unit_price"],
        }
        for r in checkout.reservations
    ]
    orders = client_for(OrderServiceClient)
    try:
        order = _patiently(
            checkout,
            "orders",
            lambda: orders.create_order(
                user_id=str(checkout.user_id),
                items=items,
                currency=checkout.currency,
                payment_id=str(envelope.data["payment_id"]),
                reservation_ids=[str(r["id"]) for r in checkout.reservations],
                idempotency_key=call_key(envelope, "order"),
            ),
        )
    except (_GaveUp, UnprocessableEntity) as exc:
        return Verdict(False, reason=f"order not placed: {exc}")
    return Verdict(
        True,
        {
            "order_id": order["id"],
            "total_amount": order["total_amount"],
            "currency": order["currency"],
        },
    )


def customer_of(envelope: Envelope) -> dict[str, str]:
    """checkout.order_placed: the customer's name and e-mail address, for the confirmation."""
    checkout = checkout_of(envelope)
    user = client_for(UserServiceClient).get_user(user_id=str(checkout.user_id))
    return {"email": user["email"], "name": user["name"]}


def release_reserved(envelope: Envelope) -> Verdict:
    """checkout.payment_failed / checkout.payment_refunded: release the checkout's stock."""
    checkout = checkout_of(envelope)
    return Verdict(True, {"reservation_ids": release_stock(envelope, checkout.reservations)})
