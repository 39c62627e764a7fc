"""A shipping reservation: one courier pickup slot per order, given back when the order fails.

The courier's slots are stock that the inventory service keeps (product SHIPPING_SLOTS), so the
step reserves one with the same contract operation as reserve_inventory, and its compensation
releases it. The outcome of the call is recorded (applied, absent or unknown), so the undo
releases exactly what was reserved, even when the reservation's response was lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_interlink.clients.factory import client_for
from django_interlink.exceptions import ResourceConflict, StepRejected
from django_interlink.sagas.definition import StepContext
from django_interlink.sagas.outcomes import APPLIED, in_flight, resolve, tracked

from .clients.inventory import InventoryServiceClient, Reservation

# Seeded in the inventory stub (mock_services/inventory/store.py): the courier's slots for today.
SHIPPING_SLOTS = "00000000-0000-4000-8000-000000000004"


def _slot_call(ctx: StepContext) -> Callable[[], Reservation]:
    """The action's one call. The undo replays it under the same Idempotency-Key when its
    outcome is unknown, and the inventory service answers with the reservation it made."""
    return lambda: client_for(InventoryServiceClient).reserve_item(
        product_id=SHIPPING_SLOTS,
        quantity=1,
        order_reference=ctx.saga_id,
        idempotency_key=ctx.idempotency_key(direction="action"),
    )


def reserve_shipping(ctx: StepContext) -> None:
    record: dict[str, Any] = ctx.data.setdefault("shipping", {})
    if record.get("state") == APPLIED:
        return
    try:
        tracked(record, _slot_call(ctx))
    except ResourceConflict as exc:
        if in_flight(exc):  # an earlier attempt with this key is still running: try again
            raise
        raise StepRejected("no courier slot left today") from exc


def release_shipping(ctx: StepContext) -> None:
    record: dict[str, Any] = ctx.data.setdefault("shipping", {})
    if record.get("released"):
        return
    reservation_id = resolve(record, _slot_call(ctx))
    if reservation_id is not None:  # None: the slot was never reserved, nothing to give back
        try:
            client_for(InventoryServiceClient).release_reservation(
                reservation_id=reservation_id, idempotency_key=ctx.idempotency_key()
            )
        except ResourceConflict as exc:  # already released: what we wanted
            if in_flight(exc):
                raise
    record["released"] = True
