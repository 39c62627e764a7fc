"""The order saga's steps (`order_processing.py` declares them): each action and its
compensation, with the service calls and events they build.

Prices are the catalogue's, recorded with each reservation from its answer (`prices.py`): a
replay of a reservation whose answer was lost gets the stored answer, so the same price. A
price the buyer sent (deprecated in contracts/shop.yaml) must equal it, else the order is
rejected ("price changed") and undone.

Every call carries an Idempotency-Key derived from saga_id, step, direction and item, and its
outcome is recorded with `django_interlink.sagas.outcomes` (applied, absent, unknown), so a
compensation undoes exactly what happened, even when a response was lost. Each step's event is
described once, from the service's answer: the action emits it, and so does its compensation
when only its replay saw that answer, before the undo's own event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.conf import settings
from django.core.mail import send_mail

from django_interlink.clients.factory import client_for
from django_interlink.exceptions import (
    PaymentDeclined,
    ResourceConflict,
    ResourceNotFound,
    StepRejected,
)
from django_interlink.sagas.definition import StepContext
from django_interlink.sagas.outcomes import APPLIED, in_flight, never_sent, resolve, tracked

from .clients.inventory import InventoryServiceClient, Reservation
from .clients.orders import Order, OrderItem, OrderServiceClient
from .clients.payments import Payment, PaymentServiceClient
from .clients.users import UserServiceClient
from .prices import check_price, order_total, unit_price

__all__ = [
    "cancel_order",
    "create_order",
    "process_payment",
    "refund_payment",
    "release_inventory",
    "reserve_inventory",
    "send_confirmation",
    "validate_user",
]

CANCEL_REASON = "order processing failed; undone by the saga"

Event = tuple[str, dict[str, Any]]  # (event_type, data), for StepContext.emit
R = TypeVar("R", bound=Mapping[str, Any])  # a service's answer


def _card_token(data: dict[str, Any]) -> str:
    return str(data["card_token"])


def validate_user(ctx: StepContext) -> None:
    try:
        user = client_for(UserServiceClient).get_user(user_id=ctx.data["user_id"], use_cache=False)
    except ResourceNotFound as exc:
        raise StepRejected(f"user {ctx.data['user_id']} does not exist") from exc
    if not user["is_active"]:
        raise StepRejected(f"user {user['id']} is not active")
    ctx.data["user"] = {"email": user["email"], "name": user["name"]}


def _reserve_call(ctx: StepContext, index: int) -> Callable[[], Reservation]:
    item = ctx.data["items"][index]
    return lambda: client_for(InventoryServiceClient).reserve_item(
        product_id=item["product_id"],
        quantity=item["quantity"],
        order_reference=ctx.saga_id,
        idempotency_key=ctx.idempotency_key(index, direction="action"),
    )


def reserve_inventory(ctx: StepContext) -> None:
    """One reservation per item, each under its own key, so a half-done step can be undone;
    each records the price it was made at, and the order's total is computed from those."""
    records: dict[str, dict[str, Any]] = ctx.data.setdefault("reservations", {})
    items = ctx.data["items"]
    for index, item in enumerate(items):
        record = records.setdefault(str(index), {})
        if record.get("state") != APPLIED:
            try:
                reservation = tracked(record, _reserve_call(ctx, index))
            except Exception as exc:
                # The step stops here: the items after this one were not asked for.
                _never_sent(records, after=index, count=len(items))
                if not isinstance(exc, ResourceConflict | ResourceNotFound) or in_flight(exc):
                    raise
                reason = (
                    "not enough stock" if isinstance(exc, ResourceConflict) else "unknown product"
                )
                raise StepRejected(f"{reason} for product {item['product_id']}") from exc
            record.update(unit_price=reservation["unit_price"], currency=reservation["currency"])
            # No checkpoint here: after a crash the undo learns unrecorded ids by replaying.
            ctx.crash_point(f"item-{index}")
        try:
            check_price(ctx.data, index)
        except StepRejected:
            _never_sent(records, after=index, count=len(items))
            raise
    ctx.data["total_amount"] = order_total(ctx.data)


def _never_sent(records: dict[str, dict[str, Any]], *, after: int, count: int) -> None:
    """The step stops at item `after`: later items were not sent in this attempt, so their undo
    needs no replay (unless an earlier attempt died unrecorded: outcomes.never_sent)."""
    for later in range(after + 1, count):
        never_sent(records.setdefault(str(later), {}))


def release_inventory(ctx: StepContext) -> None:
    records: dict[str, dict[str, Any]] = ctx.data.setdefault("reservations", {})
    for index in reversed(range(len(ctx.data["items"]))):
        record = records.setdefault(str(index), {})
        if record.get("released"):
            continue
        reservation_id = resolve(record, _reserve_call(ctx, index))
        if reservation_id is not None:
            try:
                client_for(InventoryServiceClient).release_reservation(
                    reservation_id=reservation_id, idempotency_key=ctx.idempotency_key(index)
                )
            except ResourceConflict as exc:  # already released: what we wanted
                if in_flight(exc):
                    raise
            ctx.crash_point(f"item-{index}")
        record["released"] = True


def _payment_call(ctx: StepContext) -> Callable[[], Payment]:
    data = ctx.data
    return lambda: client_for(PaymentServiceClient).process_payment(
        user_id=data["user_id"],
        amount=data["total_amount"],
        currency=data["currency"],
        card_token=_card_token(data),
        order_reference=ctx.saga_id,
        idempotency_key=ctx.idempotency_key(direction="action"),
    )


def _payment_processed(payment: Payment) -> Event:
    return "payment.processed", {
        "payment_id": payment["id"],
        "user_id": payment["user_id"],
        "order_id": None,
        "amount": payment["amount"],
        "currency": payment["currency"],
    }


def process_payment(ctx: StepContext) -> None:
    record: dict[str, Any] = ctx.data.setdefault("payment", {})
    if record.get("state") == APPLIED:
        return
    try:
        payment = tracked(record, _payment_call(ctx))
    except PaymentDeclined as exc:
        reason = str(exc.problem.get("type", "")).rsplit("/", 1)[-1] or "declined"
        raise StepRejected(f"payment declined ({reason})") from exc
    ctx.emit(*_payment_processed(payment))


def _to_undo(
    ctx: StepContext,
    key: str,
    *,
    undone: str,
    call: Callable[[], R],
    announce: Callable[[R], Event],
) -> tuple[dict[str, Any], str | None]:
    """The record of the action's call (`ctx.data[key]`) and the id of what it did; None when
    there is nothing to undo: the call did nothing, or the record says `undone` already. A
    replay that finds the call applied announces it (`announce`) before the undo's event."""
    record: dict[str, Any] = ctx.data.setdefault(key, {})
    if record.get(undone):
        return record, None

    def announced(answer: R) -> None:
        ctx.emit_forward(*announce(answer))

    return record, resolve(record, call, on_applied=announced)


def refund_payment(ctx: StepContext) -> None:
    record, payment_id = _to_undo(
        ctx, "payment", undone="refund_id", call=_payment_call(ctx), announce=_payment_processed
    )
    if payment_id is None:
        return
    client = client_for(PaymentServiceClient)
    refund = client.refund_payment(payment_id=payment_id, idempotency_key=ctx.idempotency_key())
    record["refund_id"] = refund["id"]
    order_id = ctx.data.get("order", {}).get("id")
    ctx.emit(
        "payment.refunded",
        {
            "payment_id": payment_id,
            "refund_id": refund["id"],
            "order_id": order_id,
            "amount": refund["amount"],
            "currency": refund["currency"],
        },
    )


def _order_call(ctx: StepContext) -> Callable[[], Order]:
    data = ctx.data
    items: list[OrderItem] = [
        {
            "product_id": item["product_id"],
            "quantity": item["quantity"],
            "unit_price": unit_price(ctx.data, index),
        }
        for index, item in enumerate(data["items"])
    ]
    reservations = data.get("reservations", {})
    reservation_ids = [str(reservations[str(i)]["id"]) for i in range(len(items))]
    return lambda: client_for(OrderServiceClient).create_order(
        user_id=data["user_id"],
        items=items,
        currency=data["currency"],
        payment_id=data["payment"]["id"],
        reservation_ids=reservation_ids,
        idempotency_key=ctx.idempotency_key(direction="action"),
    )


def _order_created(order: Order) -> Event:
    return "order.created", {
        "order_id": order["id"],
        "user_id": order["user_id"],
        "items": order["items"],
        "currency": order["currency"],
        "total_amount": order["total_amount"],
        "payment_id": order["payment_id"],
        "reservation_ids": order["reservation_ids"],
    }


def create_order(ctx: StepContext) -> None:
    record: dict[str, Any] = ctx.data.setdefault("order", {})
    if record.get("state") == APPLIED:
        return
    order = tracked(record, _order_call(ctx))
    ctx.data["order_id"] = order["id"]
    ctx.emit(*_order_created(order))


def cancel_order(ctx: StepContext) -> None:
    record, order_id = _to_undo(
        ctx, "order", undone="cancelled", call=_order_call(ctx), announce=_order_created
    )
    if order_id is None:
        return
    try:
        client_for(OrderServiceClient).cancel_order(
            order_id=order_id, reason=CANCEL_REASON, idempotency_key=ctx.idempotency_key()
        )
    except ResourceConflict as exc:  # already cancelled
        if in_flight(exc):
            raise
    record["cancelled"] = True
    ctx.emit(
        "order.cancelled",
        {"order_id": order_id, "user_id": ctx.data["user_id"], "reason": CANCEL_REASON},
    )


def send_confirmation(ctx: StepContext) -> None:
    """E-mail the customer. At least once: a crash after sending and before saving resends."""
    if ctx.data.get("confirmation_sent"):
        return
    user = ctx.data["user"]
    total = ctx.data["total_amount"]
    lines = [
        f"Hello {user['name']},",
        "",
        f"your order {ctx.data['order_id']} is confirmed.",
        "",
        *(f"  {item['quantity']} x {item['product_id']}" for item in ctx.data["items"]),
        "",
        f"Total: {total // 100}.{total % 100:02d} {ctx.data['currency']}",
    ]
    send_mail(
        subject=f"Order {ctx.data['order_id']} confirmed",
        message="\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user["email"]],
    )
    ctx.data["confirmation_sent"] = True
