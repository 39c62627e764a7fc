"""Helpers shared by the saga suites: the shop seen through the clients, and the stubs' ledger.

`Ledger` reads the stubs' own stores (the ground truth, including rows no API lists, such as
every payment) so the invariants are checked on what the services really hold.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from django_interlink.models import OutboxEvent, SagaStepLog
from django_interlink.sagas.crash import installed
from django_interlink.sagas.outcomes import APPLIED
from mock_services.common.store import LockedStore, Snapshot
from mock_services.inventory.store import GADGET_ID, WIDGET_ID
from mock_services.testing import FaultsClient
from shop.clients.inventory import InventoryServiceClient
from shop.clients.orders import OrderServiceClient
from shop.clients.payments import PaymentServiceClient
from shop.clients.users import UserServiceClient

# The seeded products' prices in the inventory stub's catalogue (contracts/inventory.yaml).
WIDGET_PRICE = 1250
GADGET_PRICE = 4999


def two_items(
    widgets: int = 2, gadgets: int = 1, *, widget_id: str = WIDGET_ID, gadget_id=GADGET_ID
):
    """Two items as an order names them: products and quantities (prices are the catalogue's)."""
    return [
        {"product_id": widget_id, "quantity": widgets},
        {"product_id": gadget_id, "quantity": gadgets},
    ]


class Shop:
    """The stubs seen through the Django clients, for arranging and for checking results."""

    def __init__(self, stubs: dict[str, Any]) -> None:
        self.stubs = stubs
        self.users = UserServiceClient()
        self.orders = OrderServiceClient()
        self.payments = PaymentServiceClient()
        self.inventory = InventoryServiceClient()

    def user(self, *, active: bool = True, email: str = "ada@example.com") -> str:
        return self.users.create_user(email=email, name="Ada", is_active=active)["id"]

    def product(self, on_hand: int, sku: str = "BULK-1", unit_price: int = 1000) -> str:
        return self.inventory.create_product(
            sku=sku, name=sku, on_hand=on_hand, unit_price=unit_price
        )["id"]

    def stock(self) -> dict[str, tuple[int, int]]:
        """product id -> (on_hand, reserved) of the two seeded products used by two_items()."""
        out = {}
        for pid in (WIDGET_ID, GADGET_ID):
            p = self.inventory.get_stock(product_id=pid)
            out[pid] = (p["on_hand"], p["reserved"])
        return out

    def faults(self, service: str) -> FaultsClient:
        return self.stubs[service].faults

    def ledger(self) -> Ledger:
        return Ledger.read(self.stubs)

    def close(self) -> None:
        for c in (self.users, self.orders, self.payments, self.inventory):
            c.close()


@dataclass
class Ledger:
    products: dict[str, dict[str, Any]]
    reservations: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    orders: list[dict[str, Any]]

    @classmethod
    def read(cls, stubs: dict[str, Any]) -> Ledger:
        def snapshot(name: str) -> Snapshot:
            return cast(LockedStore, stubs[name].app.state.runtime.store).snapshot()

        inventory = snapshot("inventory")
        return cls(
            products={p["id"]: p for p in inventory["products"]},
            reservations=inventory["reservations"],
            payments=snapshot("payments")["payments"],
            orders=snapshot("orders")["orders"],
        )

    def for_saga(self, saga_id: str) -> tuple[list, list, list]:
        """(reservations, payments, orders) a saga made: linked by order_reference / payment_id."""
        reservations = [r for r in self.reservations if r["order_reference"] == saga_id]
        payments = [p for p in self.payments if p["order_reference"] == saga_id]
        pids = {p["id"] for p in payments}
        orders = [o for o in self.orders if o["payment_id"] in pids]
        return reservations, payments, orders


def check_saga(ledger: Ledger, saga_id: str, status: str, context: dict[str, Any]) -> None:
    """The per-saga invariants of a finished order saga, on what the stubs hold for it.

    Completed: every effect exists and is live. Otherwise (its step log says how far it got):
    every effect of a step whose action succeeded exists and is undone, what the failed step
    left is undone, a step never tried left nothing, and the ids the saga recorded as applied
    are exactly the stubs' rows.
    """
    reservations, payments, orders = ledger.for_saga(saga_id)
    items = context["items"]
    assert len(payments) <= 1, f"{saga_id}: charged {len(payments)} times"
    assert len(reservations) <= len(items), f"{saga_id}: {len(reservations)} reservations"
    assert len(orders) <= 1, f"{saga_id}: {len(orders)} orders"
    if status == "completed":
        assert sorted(
            (r["product_id"], r["quantity"], r["status"]) for r in reservations
        ) == sorted((i["product_id"], i["quantity"], "active") for i in items)
        assert [(p["amount"], p["status"]) for p in payments] == [
            (context["total_amount"], "captured")
        ]
        assert [o["status"] for o in orders] == ["pending"]
        assert orders[0]["reservation_ids"] == [
            context["reservations"][str(i)]["id"] for i in range(len(items))
        ]
        return
    assert status in {"compensated", "failed"}, f"{saga_id}: {status}"
    actions = SagaStepLog.objects.filter(execution__saga_id=saga_id, direction="action")
    tried = set(actions.values_list("step_name", flat=True))
    done = set(actions.filter(status="succeeded").values_list("step_name", flat=True))
    # step -> (its effects on the stubs, those effects all undone)
    undone: dict[str, tuple[list[Any], list[Any]]] = {
        "reserve_inventory": (
            [(r["product_id"], r["quantity"], r["status"]) for r in reservations],
            [(i["product_id"], i["quantity"], "released") for i in items],
        ),
        "process_payment": (
            [(p["amount"], p["status"]) for p in payments],
            [(context.get("total_amount"), "refunded")],  # priced once the units are held
        ),
        "create_order": ([o["status"] for o in orders], ["cancelled"]),
    }
    for step, (held, all_undone) in undone.items():
        where = (saga_id, step)
        if step in done:
            assert (*where, sorted(held)) == (*where, sorted(all_undone))
        elif step in tried:  # the step that failed: some of its effect, all of it undone
            assert (*where, set(held) - set(all_undone)) == (*where, set())
        else:
            assert (*where, held) == (*where, [])
    recorded = [context.get("reservations", {}).get(str(i), {}) for i in range(len(items))]
    recorded += [context.get("payment", {}), context.get("order", {})]
    applied = sorted(str(r["id"]) for r in recorded if r.get("state") == APPLIED)
    stubs_hold = sorted(str(row["id"]) for row in [*reservations, *payments, *orders])
    assert (saga_id, applied) == (saga_id, stubs_hold)


def check_global(ledger: Ledger, on_hand_before: dict[str, int]) -> None:
    """Across all sagas: stock conserved, every payment backs a live order or was refunded."""
    for pid, on_hand in on_hand_before.items():
        product = ledger.products[pid]
        active = sum(
            r["quantity"]
            for r in ledger.reservations
            if r["product_id"] == pid and r["status"] == "active"
        )
        assert (product["on_hand"], product["reserved"]) == (on_hand, active), pid
    live_orders_by_payment: dict[str, int] = {}
    for order in ledger.orders:
        if order["status"] != "cancelled":
            live_orders_by_payment[order["payment_id"]] = (
                live_orders_by_payment.get(order["payment_id"], 0) + 1
            )
    assert all(n == 1 for n in live_orders_by_payment.values()), "two live orders, one payment"
    for payment in ledger.payments:
        backed = live_orders_by_payment.get(payment["id"], 0) == 1
        refunded = payment["status"] == "refunded"
        assert backed != refunded, f"payment {payment['id']}: order={backed} refunded={refunded}"


# The order saga's events: event type -> (step, direction, the data field naming the resource).
ORDER_EVENTS = {
    "payment.processed": ("process_payment", "action", "payment_id"),
    "payment.refunded": ("process_payment", "compensation", "payment_id"),
    "order.created": ("create_order", "action", "order_id"),
    "order.cancelled": ("create_order", "compensation", "order_id"),
}
UNDOES = {"payment.refunded": "payment.processed", "order.cancelled": "order.created"}


def step_event_id(saga_id: str, step: str, direction: str, n: int = 0) -> str:
    """The stable id of a step's n-th event in one direction: uuid5 of saga:step:direction:n.

    Restated here, not imported from the engine: the ids must not change between versions."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"saga:{saga_id}:{step}:{direction}:{n}"))


def check_events(ledger: Ledger, saga_id: str) -> None:
    """A saga's outbox tells what the services hold: one payment.processed per payment made,
    one order.created per order, an undo event per refund or cancellation, each after the
    event it undoes, and every one under its step's stable id."""
    _, payments, orders = ledger.for_saga(saga_id)
    held = {
        "payment.processed": [p["id"] for p in payments],
        "payment.refunded": [p["id"] for p in payments if p["status"] == "refunded"],
        "order.created": [o["id"] for o in orders],
        "order.cancelled": [o["id"] for o in orders if o["status"] == "cancelled"],
    }
    rows = list(OutboxEvent.objects.filter(correlation_id=saga_id).order_by("id"))
    types = [r.event_type for r in rows]
    assert set(types) <= set(ORDER_EVENTS), f"{saga_id}: unexpected events in {types}"
    # (event type, resource id) in outbox order
    stream = [(r.event_type, r.payload["data"][ORDER_EVENTS[r.event_type][2]]) for r in rows]
    announced = {t: [res for et, res in stream if et == t] for t in ORDER_EVENTS}
    assert announced == held, f"{saga_id}: outbox {announced} != services {held}"
    ids = [str(r.event_id) for r in rows]
    stable = [step_event_id(saga_id, *ORDER_EVENTS[t][:2]) for t in types]
    assert ids == stable, f"{saga_id}: event ids {ids} != stable ids {stable} of {types}"
    unannounced = [
        (t, res)
        for i, (t, res) in enumerate(stream)
        if t in UNDOES and (UNDOES[t], res) not in stream[:i]
    ]
    assert unannounced == [], f"{saga_id}: undone before announced: {unannounced} in {types}"


@contextmanager
def lifted_at(point: str, faults: FaultsClient) -> Iterator[None]:
    """Clear a stub's faults when the saga reaches crash point `point` (crash.py names them):
    a fault that lasts, say, until the first compensation starts."""

    def hook(name: str) -> None:
        if name == point:
            faults.clear()

    with installed(hook):
        yield
