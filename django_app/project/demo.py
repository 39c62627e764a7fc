"""`python -m project.demo` (`make demo`): the clients, the order saga and the events, on stubs.

Runs on embedded defaults: SQLite in a temp dir, the four stub services on free local ports in
this process, a random bearer token, the in-memory event bus, Django's locmem mail backend.
Each scene is a small function; in the client scenes every service call prints one line
(service, operation, request id, status, duration), the saga scenes print their step log
instead. A scene checks its invariants with `demo.check(...)`: one that fails makes the run
exit 1. Add a scene by writing `def my_scene(demo: Demo) -> None` and appending
`Scene("title", my_scene)` to SCENES.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from unittest import mock

if TYPE_CHECKING:
    from microservices.models import SagaStepLog
    from mock_services.testing import StubServer
    from shop.clients.inventory import InventoryServiceClient
    from shop.clients.orders import OrderServiceClient
    from shop.clients.payments import PaymentServiceClient
    from shop.clients.users import UserServiceClient

SERVICES = ("users", "orders", "payments", "inventory")
# The payments stub's test cards (documented in contracts/payments.yaml), not secrets.
CARD_OK = "tok_visa"
CARD_DECLINED = "tok_declined"


class CallPrinter(logging.Handler):
    """Prints the clients' log records as one aligned line per call (and per retry)."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(level=logging.INFO)
        self.out = out
        self.calls = 0
        # Off in scenes that print a summary of their own (the sagas' step logs).
        self.echo = True

    def emit(self, record: logging.LogRecord) -> None:
        fields = record.__dict__
        if fields.get("event") == "call":
            self.calls += 1
        if not self.echo:
            return
        if fields.get("event") == "retry":
            reason = fields.get("cause") or "an error"
            how = "Retry-After" if fields.get("retry_after") else "backoff"
            print(
                f"    ↻ {fields['service']}.{fields['operation']} retrying after {reason},"
                f" waiting {fields['wait_s']:.3f}s ({how})",
                file=self.out,
            )
            return
        if fields.get("event") != "call":
            return
        status = fields.get("status") or type(fields.get("error")).__name__
        attempts = fields.get("attempts", 1)
        print(
            f"  {fields['service']:<10} {fields['operation']:<20} {fields['request_id']}"
            f"  {status!s:>3}  {fields['duration_ms']:7.1f} ms"
            + (f"  ({attempts} attempts)" if attempts and attempts > 1 else ""),
            file=self.out,
        )


@dataclass
class Demo:
    """What scenes share: the stubs, one client per service, and the objects made so far."""

    stubs: dict[str, StubServer]
    users: UserServiceClient
    orders: OrderServiceClient
    payments: PaymentServiceClient
    inventory: InventoryServiceClient
    out: TextIO = sys.stdout
    state: dict[str, Any] = field(default_factory=dict)

    def say(self, text: str) -> None:
        print(f"    {text}", file=self.out)

    def check(self, what: str, actual: object, expected: object) -> None:
        """An invariant of the scene: printed when it holds, the scene fails when it does not."""
        if actual != expected:
            raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")
        self.say(f"✓ {what}")


@dataclass(frozen=True)
class Scene:
    title: str
    run: Callable[[Demo], None]
    # Print one line per service call (the saga scenes show their step log instead).
    show_calls: bool = True


# -- scenes ------------------------------------------------------------------------------------


def order_flow(demo: Demo) -> None:
    """A user, a product, a reservation, a payment and an order: the happy path."""
    user = demo.users.create_user(email=f"ada+{secrets.token_hex(3)}@example.com", name="Ada")
    product = demo.inventory.create_product(
        sku=f"BOOK-{secrets.token_hex(3).upper()}", name="Notebook", on_hand=10
    )
    reservation = demo.inventory.reserve_item(
        product_id=product["id"], quantity=2, order_reference="demo-order-1"
    )
    payment = demo.payments.process_payment(
        user_id=user["id"],
        amount=2 * 1250,
        currency="EUR",
        card_token=CARD_OK,
        order_reference="demo-order-1",
        idempotency_key=f"demo-order-1-payment-{user['id']}",
    )
    order = demo.orders.create_order(
        user_id=user["id"],
        items=[{"product_id": product["id"], "quantity": 2, "unit_price": 1250}],
        currency="EUR",
        payment_id=payment["id"],
        reservation_ids=[reservation["id"]],
    )
    order = demo.orders.update_order_status(order_id=order["id"], status="confirmed")
    stock = demo.inventory.get_stock(product_id=product["id"])
    demo.state.update(user=user, product=product, payment=payment, order=order)
    demo.say(
        f"order {order['id'][:8]}… {order['status']}, total {order['total_amount'] / 100:.2f}"
        f" {order['currency']}; stock on_hand={stock['on_hand']} reserved={stock['reserved']}"
        f" available={stock['available']}"
    )


def retried_503(demo: Demo) -> None:
    """The inventory answers 503 once: urllib3 retries with backoff and the call succeeds."""
    product = demo.state["product"]
    demo.stubs["inventory"].faults.add(
        method="GET", path="/products/{product_id}", kind="error", status=503, times=1
    )
    stock = demo.inventory.get_stock(product_id=product["id"])
    demo.say(f"got the stock anyway: available={stock['available']}")


def declined_card(demo: Demo) -> None:
    """tok_declined: the payments service answers 402, raised as a typed PaymentDeclined."""
    from microservices.exceptions import PaymentDeclined

    try:
        demo.payments.process_payment(
            user_id=demo.state["user"]["id"], amount=999, currency="EUR", card_token=CARD_DECLINED
        )
    except PaymentDeclined as exc:
        demo.say(f"PaymentDeclined: status {exc.status_code}, type {exc.problem.get('type')}")
    else:
        raise AssertionError("the declined card was accepted")


def malformed_response(demo: Demo) -> None:
    """The orders service returns a body that breaks its contract: caught as ContractViolation."""
    from microservices.exceptions import ContractViolation

    demo.stubs["orders"].faults.add(method="GET", path="/orders/{order_id}", kind="malformed")
    try:
        demo.orders.get_order(order_id=demo.state["order"]["id"])
    except ContractViolation as exc:
        demo.say(f"ContractViolation in {exc.operation}, field {exc.field!r}: {exc.message}")
    else:
        raise AssertionError("the malformed body was accepted")


def lost_response(demo: Demo) -> None:
    """The reservation is made but its response is lost: the keyed retry replays it, once."""
    product = demo.state["product"]
    before = demo.inventory.get_stock(product_id=product["id"])["reserved"]
    demo.stubs["inventory"].faults.add(method="POST", path="/reservations", kind="lost_response")
    demo.inventory.reserve_item(product_id=product["id"], quantity=1)
    after = demo.inventory.get_stock(product_id=product["id"])["reserved"]
    if after - before != 1:
        raise AssertionError(f"reserved moved by {after - before}, not 1")
    demo.say(f"reserved {before} -> {after}: applied once despite the retry")


# -- saga scenes -------------------------------------------------------------------------------

NOTEBOOK_PRICE = 1250
PEN_PRICE = 250
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Short, so the crash scene waits about two seconds for the dead worker's lease to lapse; long
# enough that it is still live when worker B first looks, milliseconds after the "kill".
CRASH_LEASE_SECONDS = 2.0


def _customer(demo: Demo) -> str:
    """The active user the saga scenes order for (made once, so any scene can run alone)."""
    if "customer_id" not in demo.state:
        user = demo.users.create_user(
            email=f"grace+{secrets.token_hex(3)}@example.com", name="Grace"
        )
        demo.state["customer_id"] = user["id"]
    return str(demo.state["customer_id"])


def _product(demo: Demo, name: str, on_hand: int) -> str:
    sku = f"{name.upper()}-{secrets.token_hex(3).upper()}"
    return str(demo.inventory.create_product(sku=sku, name=name, on_hand=on_hand)["id"])


def _stock(demo: Demo, product_id: str) -> tuple[int, int, int]:
    """(on_hand, reserved, available) as the inventory stub reports them."""
    product = demo.inventory.get_stock(product_id=product_id)
    return product["on_hand"], product["reserved"], product["available"]


def _stub_payments(demo: Demo, saga_id: str) -> list[dict[str, Any]]:
    """Every payment the payments stub holds for a saga. The API has no listing endpoint, so
    read the stub's own store, as the saga tests' ledger does: the ground truth."""
    store = demo.stubs["payments"].app.state.runtime.store
    with store._lock:
        return [p.model_dump() for p in store._payments.values() if p.order_reference == saga_id]


def _short_ids(text: str) -> str:
    """UUIDs cut to their first 8 digits, so a line fits on a terminal."""
    return UUID_RE.sub(lambda m: m.group(0)[:8] + "…", text)


def _saga_id(label: str) -> str:
    return f"demo-{label}-{secrets.token_hex(3)}"


def _step_log(saga_id: str) -> list[SagaStepLog]:
    from microservices.models import SagaStepLog

    return list(SagaStepLog.objects.filter(execution__saga_id=saga_id).order_by("started_at", "id"))


def _print_step_log(
    demo: Demo, logs: list[SagaStepLog], *, workers: dict[str, str] | None = None
) -> None:
    """One line per attempt: step, direction, attempt number, status, duration (and error)."""
    for log in logs:
        duration = "—" if log.duration_ms is None else f"{log.duration_ms:6.1f} ms"
        status = "interrupted" if log.finished_at is None else str(log.status)
        line = f"  {log.step_name:<18} {log.direction:<12} #{log.attempt}  {status:<11}"
        line += f" {duration:>9}"
        if workers is not None:
            line += f"  worker {workers.get(log.worker, '?')}"
        if log.error:
            line += f"  {_short_ids(log.error)[:70]}"
        demo.say(line)


def saga_mermaid(demo: Demo) -> None:
    """The order saga is data: its Mermaid flowchart, drawn from the engine's transitions."""
    from microservices.sagas.mermaid import saga_to_mermaid
    from shop.order_processing import ORDER_PROCESSING

    source = saga_to_mermaid(ORDER_PROCESSING, direction="LR")
    labels = dict(re.findall(r"^\s+(\w+)\[\"([^\"]+)\"\]", source, re.MULTILINE))
    labels.update(re.findall(r"^\s+(\w+)\(\(([^)]+)\)\)", source, re.MULTILINE))
    edges: dict[str, dict[str, str]] = {}
    for src, label, dst in re.findall(
        r"^\s+(\w+) (?:-->|-\. (.+?) \.->) (\w+)$", source, re.MULTILINE
    ):
        edges.setdefault(src, {})[label or "ok"] = labels[dst]
    actions = [n for n in labels if re.fullmatch(r"a\d+", n)]
    undos = sorted((n for n in labels if re.fullmatch(r"c\d+", n)), reverse=True)
    payment = f"a{ORDER_PROCESSING.index('process_payment')}"
    sample = [line.strip() for line in source.splitlines() if line.strip().startswith(payment)]
    demo.say(
        f"flowchart LR, {len(source.splitlines())} lines (`python -m project.demo --mermaid`"
        " prints them); process_payment's:"
    )
    demo.say("  " + "    ".join(sample))
    demo.say("every node's edges, read back from the source:")
    for node in actions + undos:
        out = edges[node]
        failure = next(k for k in out if k != "ok")
        demo.say(f"  {labels[node]:<24} ok -> {out['ok']:<24} {failure} -> {out[failure]}")
    compensable = [s.name for s in ORDER_PROCESSING.steps if s.compensation is not None]
    demo.check(
        "every step with an undo has an undo node",
        sorted(labels[n] for n in undos),
        sorted(f"undo {name}" for name in compensable),
    )


def saga_succeeds(demo: Demo) -> None:
    """process_order_request through the four stubs: each step once, COMPLETED."""
    from django.core import mail

    from shop.order_processing import process_order_request

    notebook, pen = _product(demo, "Notebook", 10), _product(demo, "Pen", 50)
    items = [
        {"product_id": notebook, "quantity": 2, "unit_price": NOTEBOOK_PRICE},
        {"product_id": pen, "quantity": 3, "unit_price": PEN_PRICE},
    ]
    result = process_order_request(
        _customer(demo), items, CARD_OK, currency="EUR", saga_id=_saga_id("ok")
    )
    _print_step_log(demo, _step_log(result.saga_id))
    demo.say(f"saga {result.saga_id}: {result.status}")
    demo.check("saga completed", result.status, "completed")
    order = demo.orders.get_order(order_id=result.context["order_id"])
    payment = demo.payments.get_payment(payment_id=result.context["payment"]["id"])
    subject = mail.outbox[-1].subject.replace(order["id"], order["id"][:8] + "…")
    demo.say(
        f"order {order['id'][:8]}… {order['status']}, payment {payment['id'][:8]}…"
        f" {payment['status']} {payment['amount'] / 100:.2f} {payment['currency']},"
        f" e-mail {subject!r}"
    )
    demo.check(
        "stub: one captured payment of the order's total",
        [(p["amount"], p["status"]) for p in _stub_payments(demo, result.saga_id)],
        [(order["total_amount"], "captured")],
    )
    demo.check(
        "stub: stock reserved for the order (notebook, pen)",
        (_stock(demo, notebook), _stock(demo, pen)),
        ((10, 2, 8), (50, 3, 47)),
    )


def saga_payment_declined(demo: Demo) -> None:
    """tok_declined at process_payment: the steps before it are undone, newest first."""
    from shop.order_processing import process_order_request

    notebook = _product(demo, "Notebook", 10)
    before = _stock(demo, notebook)
    items = [{"product_id": notebook, "quantity": 2, "unit_price": NOTEBOOK_PRICE}]
    result = process_order_request(
        _customer(demo), items, CARD_DECLINED, currency="EUR", saga_id=_saga_id("declined")
    )
    logs = _step_log(result.saga_id)
    _print_step_log(demo, logs)
    demo.say(f"saga {result.saga_id}: {result.status} ({_short_ids(result.error)})")
    demo.check("saga compensated", result.status, "compensated")
    undone = [log.step_name for log in logs if log.direction == "compensation"]
    demo.check(
        "compensations in reverse: the failed step, then the one before",
        undone,
        ["process_payment", "reserve_inventory"],
    )
    reservation_id = result.context["reservations"]["0"]["id"]
    reservation = demo.inventory.get_reservation(reservation_id=reservation_id)
    demo.say(
        f"payment {result.context['payment']['state']} (nothing to refund);"
        f" reservation {reservation_id[:8]}… {reservation['status']}"
    )
    demo.check("stub: reservation released", reservation["status"], "released")
    demo.check("stub: nothing charged", _stub_payments(demo, result.saga_id), [])
    demo.check(
        f"stub: stock back to on_hand/reserved/available {before}",
        _stock(demo, notebook),
        before,
    )


def saga_partial_reservation(demo: Demo) -> None:
    """Item 1 is reserved, item 2 is out of stock: the half-done step undoes its own half."""
    from shop.order_processing import process_order_request

    notebook, scarce = _product(demo, "Notebook", 10), _product(demo, "Lamp", 1)
    before = (_stock(demo, notebook), _stock(demo, scarce))
    items = [
        {"product_id": notebook, "quantity": 2, "unit_price": NOTEBOOK_PRICE},
        {"product_id": scarce, "quantity": 3, "unit_price": 4999},
    ]
    result = process_order_request(
        _customer(demo), items, CARD_OK, currency="EUR", saga_id=_saga_id("partial")
    )
    _print_step_log(demo, _step_log(result.saga_id))
    records = result.context["reservations"]
    first = demo.inventory.get_reservation(reservation_id=records["0"]["id"])
    demo.say(
        f"saga {result.status}: item 1 reservation {first['id'][:8]}… {first['status']};"
        f" item 2 refused by the service ({records['1']['state']}: nothing to release)"
    )
    demo.check("saga compensated", result.status, "compensated")
    demo.check("stub: the first item's reservation released", first["status"], "released")
    demo.check(
        "stub: stock of both products as before",
        (_stock(demo, notebook), _stock(demo, scarce)),
        before,
    )


class ProcessKilled(BaseException):
    """Stands in for SIGKILL inside this process: a BaseException, so no `except Exception` in
    the engine catches it and nothing it would have saved after that point is saved."""


@contextmanager
def killed_at(point: str) -> Iterator[None]:
    """The orchestrator's test crash hook (`SAGA_CRASH_AT` kills the process with SIGKILL),
    made to raise ProcessKilled instead, so the demo can carry on after the "crash"."""
    from microservices.sagas import orchestrator

    def crash(name: str) -> None:
        if name == point:
            raise ProcessKilled(name)

    with mock.patch.object(orchestrator, "crash_point", crash):
        yield


def saga_crash_and_resume(demo: Demo) -> None:
    """Worker A dies right after the charge, before saving it; worker B resumes the saga."""
    from django.utils import timezone

    from microservices.models import SagaExecution
    from microservices.sagas.orchestrator import saga_claim_stale, saga_execute, worker_id
    from shop.order_processing import ORDER_PROCESSING, build_order_context

    notebook = _product(demo, "Notebook", 10)
    items = [{"product_id": notebook, "quantity": 2, "unit_price": NOTEBOOK_PRICE}]
    context = build_order_context(
        user_id=_customer(demo), items=items, payment_method=CARD_OK, currency="EUR"
    )
    saga_id, point = _saga_id("crash"), "after_action:process_payment"
    worker_a, worker_b = worker_id(), worker_id()
    try:
        with killed_at(point):
            saga_execute(
                definition=ORDER_PROCESSING,
                saga_id=saga_id,
                context=context,
                owner=worker_a,
                lease_seconds=CRASH_LEASE_SECONDS,
            )
    except ProcessKilled:
        pass
    else:
        raise AssertionError(f"the saga never reached {point}")
    left = SagaExecution.objects.get(saga_id=saga_id)
    step = ORDER_PROCESSING.steps[left.current_step].name
    demo.say(f"worker A killed at {point} (an in-process stand-in for SIGKILL):")
    demo.say(f"card charged, nothing saved: the row says {left.status} at {step}, leased to A")
    demo.check("a live lease keeps worker B off", saga_claim_stale(owner=worker_b, limit=1), [])
    while SagaExecution.objects.filter(pk=left.pk, lease_expires_at__gt=timezone.now()).exists():
        time.sleep(0.05)
    results = _resume_stale(worker_b)
    demo.say(f"lease lapsed; worker B ran saga_resume_stale (resume_sagas): {results}")
    logs = _step_log(saga_id)
    _print_step_log(demo, logs, workers={worker_a: "A", worker_b: "B"})
    keys = {log.idempotency_key for log in logs if log.step_name == "process_payment"}
    demo.say(f"both payment attempts sent Idempotency-Key {', '.join(sorted(keys))}")
    demo.check("saga completed after the resume", results, {saga_id: "completed"})
    demo.check(
        "stub: charged exactly once",
        [(p["amount"], p["status"]) for p in _stub_payments(demo, saga_id)],
        [(context["total_amount"], "captured")],
    )
    demo.check("stub: reserved exactly once", _stock(demo, notebook), (10, 2, 8))


def _resume_stale(owner: str) -> dict[str, str]:
    from microservices.sagas.orchestrator import saga_resume_stale

    return {r.saga_id: str(r.status) for r in saga_resume_stale(owner=owner)}


# -- event scene -------------------------------------------------------------------------------

CONSUMER_GROUP = "demo-profiles"


class SignupFailed(Exception):
    """The failure that rolls back the demo's first sign-up, after both of its writes."""


@contextmanager
def captured_logs(name: str) -> Iterator[list[logging.LogRecord]]:
    """Keep a logger's records (DEBUG and up) for the scene to print, instead of stderr."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    log = logging.getLogger(name)
    handler, saved = Keep(logging.DEBUG), (log.level, log.propagate)
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    try:
        yield records
    finally:
        log.removeHandler(handler)
        log.setLevel(saved[0])
        log.propagate = saved[1]


def _sign_up(name: str, *, fail: bool = False) -> str:
    """The producer: a local user and its user.created event, in one transaction."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from microservices.events.outbox import publish_event

    email = f"{name.lower()}+{secrets.token_hex(3)}@example.com"
    with transaction.atomic():
        get_user_model().objects.create_user(username=email, email=email, first_name=name)
        envelope = publish_event(
            "user.created", {"user_id": str(uuid.uuid4()), "email": email, "name": name}
        )
        if fail:
            raise SignupFailed(envelope.event_id)
    return envelope.event_id


def events_outbox_inbox(demo: Demo) -> None:
    """Outbox in the producer's transaction, relay to the bus, inbox-deduplicated consumer,
    malformed events dead-lettered while the consumer carries on."""
    from django.contrib.auth import get_user_model
    from django.core import mail

    from microservices.events.bus import get_bus
    from microservices.events.consumer import load_registry
    from microservices.events.envelope import Envelope
    from microservices.events.memory import MemoryBus
    from microservices.events.outbox import outbox_relay
    from microservices.models import InboxEvent, OutboxEvent, OutboxStatus
    from shop.models import UserProfile

    bus = get_bus("memory")
    if not isinstance(bus, MemoryBus):
        raise AssertionError(f"expected the in-memory bus, got {type(bus).__name__}")
    registry = load_registry(["shop.handlers"]).only(["user.created"])
    handler_name = registry.handlers_for("user.created")[0].name
    bus.declare(["user.created"], group=CONSUMER_GROUP)  # the queue exists before the relay runs

    saga_events = Counter(
        OutboxEvent.objects.filter(status=OutboxStatus.PENDING).values_list("event_type", flat=True)
    )
    demo.say(
        "outbox: the sagas' events, committed with their steps: "
        + (", ".join(f"{t} x{n}" for t, n in sorted(saga_events.items())) or "none")
    )

    try:
        _sign_up("Mallory", fail=True)
    except SignupFailed as exc:
        lost_event = str(exc)
    else:
        raise AssertionError("the failing sign-up did not fail")
    demo.check(
        "rolled-back sign-up: neither the user nor its event kept",
        (
            get_user_model().objects.filter(first_name="Mallory").count(),
            OutboxEvent.objects.filter(event_id=lost_event).count(),
        ),
        (0, 0),
    )
    event_id = _sign_up("Ada")
    row = OutboxEvent.objects.get(event_id=event_id)
    demo.say(f"committed sign-up: user Ada and outbox row #{row.pk} user.created ({row.status})")

    relayed = outbox_relay(bus=bus)
    demo.say(
        f"relay: {relayed.sent} published to the memory bus, {relayed.refused} refused"
        " (only user.created has a queue in this demo)"
    )
    demo.check("outbox drained", OutboxEvent.objects.filter(status=OutboxStatus.PENDING).count(), 0)

    mails = len(mail.outbox)
    with captured_logs("microservices.events.consumer"):
        bus.consume(registry=registry, group=CONSUMER_GROUP, max_messages=1, idle_timeout=2.0)
    profile = UserProfile.objects.get(email=row.payload["data"]["email"])
    demo.say(
        f"consumer {handler_name}: UserProfile {profile.name} <{profile.email}>,"
        f" welcome e-mail {mail.outbox[-1].subject!r}"
    )
    demo.check("one welcome e-mail sent", len(mail.outbox) - mails, 1)

    # The relay dies after the bus has the event and before it marks the row sent: the row is
    # still pending, so the next relay publishes it again (at least once).
    OutboxEvent.objects.filter(pk=row.pk).update(status=OutboxStatus.PENDING, sent_at=None)
    redelivered = outbox_relay(bus=bus).sent
    with captured_logs("microservices.events.consumer") as records:
        bus.consume(registry=registry, group=CONSUMER_GROUP, max_messages=1, idle_timeout=2.0)
    skipped = [r for r in records if "already handled" in r.getMessage()]
    demo.say(f"relay died before marking the row sent: the next relay re-published {redelivered};")
    demo.say(f"the inbox says {handler_name} already handled {event_id[:8]}…")
    demo.check(
        "redelivery skipped by the inbox: skips, inbox rows, profiles, e-mails",
        (
            len(skipped),
            InboxEvent.objects.filter(event_id=event_id).count(),
            UserProfile.objects.filter(email=profile.email).count(),
            len(mail.outbox) - mails,
        ),
        (1, 1, 1, 1),
    )

    # A foreign producer's bytes: not JSON at all, and an envelope whose data breaks the schema.
    bus.publish_raw("user.created", b'{"event_id": "7f0c", "event_type": "user.cre')
    bad = Envelope.new("user.created", {"user_id": str(uuid.uuid4()), "name": "Eve"})
    bus.publish_raw("user.created", bad.to_bytes())
    next_event = _sign_up("Linus")
    outbox_relay(bus=bus)
    with captured_logs("microservices.events.consumer"):
        settled = bus.consume(
            registry=registry, group=CONSUMER_GROUP, max_messages=3, idle_timeout=2.0
        )
    dead = bus.dead_letters.get(CONSUMER_GROUP, [])
    for letter in dead:
        demo.say(f"dead-lettered after {letter.deliveries} delivery: {letter.reason[:88]}")
    demo.check("both malformed events in the dead-letter queue", len(dead), 2)
    demo.check(
        "the consumer lived on: the next event was handled",
        (settled, InboxEvent.objects.filter(event_id=next_event).count()),
        (3, 1),
    )


SCENES: list[Scene] = [
    Scene("Place an order: user, stock, payment, order", order_flow),
    Scene("A 503, retried, then success", retried_503),
    Scene("A declined card as a typed error", declined_card),
    Scene("A malformed response caught by the contract", malformed_response),
    Scene("A lost response, retried with its Idempotency-Key, applied once", lost_response),
    Scene("The order saga as data: its Mermaid flowchart", saga_mermaid),
    Scene("Order saga, happy path: the step log", saga_succeeds, show_calls=False),
    Scene(
        "Order saga, card declined: compensations in reverse",
        saga_payment_declined,
        show_calls=False,
    ),
    Scene(
        "Order saga, second item out of stock: the first released",
        saga_partial_reservation,
        show_calls=False,
    ),
    Scene(
        "Order saga, worker killed after the charge, resumed by another",
        saga_crash_and_resume,
        show_calls=False,
    ),
    Scene(
        "Events: outbox, relay, inbox dedupe, dead letters",
        events_outbox_inbox,
        show_calls=False,
    ),
]


# -- set-up ------------------------------------------------------------------------------------


def _setup_django(workdir: Path, *, migrate: bool = True) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.base")
    # Embedded defaults whatever the shell says: a throwaway SQLite file and secret.
    os.environ["SQLITE_PATH"] = str(workdir / "demo.sqlite3")
    os.environ.pop("DATABASE_URL", None)
    os.environ["EVENT_BUS_BACKEND"] = "memory"
    # Mail stays in memory (the scenes print subjects), never on the console or an SMTP server.
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(32))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    if not migrate:
        return
    from django.core.management import call_command

    call_command("migrate", run_syncdb=True, verbosity=0)


@contextmanager
def running_stubs(token: str) -> Iterator[dict[str, StubServer]]:
    from mock_services.testing import StubServer

    with ExitStack() as stack:
        yield {name: stack.enter_context(StubServer(name, token)) for name in SERVICES}


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m project.demo", description=__doc__)
    parser.add_argument("--list", action="store_true", help="list the scenes and exit")
    parser.add_argument("--only", type=int, nargs="*", help="run only these scene numbers")
    parser.add_argument(
        "--mermaid", action="store_true", help="print the order saga as Mermaid and exit"
    )
    args = parser.parse_args(argv)
    if args.list:
        for number, scene in enumerate(SCENES, 1):
            print(f"{number}. {scene.title}", file=out)
        return 0
    if args.mermaid:
        with tempfile.TemporaryDirectory(prefix="microservices-demo-") as tmp:
            _setup_django(Path(tmp), migrate=False)
            from microservices.sagas.mermaid import saga_to_mermaid
            from shop.order_processing import ORDER_PROCESSING

            print(saga_to_mermaid(ORDER_PROCESSING, direction="LR"), end="", file=out)
        return 0

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="microservices-demo-") as tmp:
        _setup_django(Path(tmp))
        from django.conf import settings
        from django.test import override_settings

        from microservices.clients.testing import services_settings_for
        from microservices.request_id import bind_request_id
        from shop.clients.inventory import InventoryServiceClient
        from shop.clients.orders import OrderServiceClient
        from shop.clients.payments import PaymentServiceClient
        from shop.clients.users import UserServiceClient

        token = secrets.token_urlsafe(24)  # lives only in this process
        printer = CallPrinter(out)
        client_log = logging.getLogger("microservices.clients")
        client_log.addHandler(printer)
        client_log.setLevel(logging.INFO)
        client_log.propagate = False
        logging.getLogger("mock_services").setLevel(logging.WARNING)
        failures = 0
        with running_stubs(token) as stubs:
            conf = services_settings_for(
                {name: server.url for name, server in stubs.items()},
                token,
                base=settings.MICROSERVICES,
            )
            print(
                "Stubs: " + ", ".join(f"{n} {s.url}" for n, s in stubs.items()),
                file=out,
            )
            with override_settings(MICROSERVICES=conf), ExitStack() as clients:
                demo = Demo(
                    stubs=stubs,
                    users=clients.enter_context(UserServiceClient()),
                    orders=clients.enter_context(OrderServiceClient()),
                    payments=clients.enter_context(PaymentServiceClient()),
                    inventory=clients.enter_context(InventoryServiceClient()),
                    out=out,
                )
                for number, scene in enumerate(SCENES, 1):
                    if args.only and number not in args.only:
                        continue
                    # One id per scene, as if each were one inbound request to this service.
                    with bind_request_id() as request_id:
                        print(f"\n[{number}] {scene.title}  (request id {request_id})", file=out)
                        printer.echo = scene.show_calls
                        try:
                            scene.run(demo)
                        except Exception as exc:  # report every scene, then fail the run
                            failures += 1
                            print(f"    FAILED: {type(exc).__name__}: {exc}", file=out)
        client_log.removeHandler(printer)
    elapsed = time.perf_counter() - started
    verdict = "OK" if failures == 0 else f"FAILED ({failures} scene(s))"
    print(
        f"\nDemo finished: {verdict}, {printer.calls} service calls in {elapsed:.1f}s.",
        file=out,
    )
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
