"""Scenes of the order saga: its definition drawn as Mermaid, then run on the stubs to success,
to compensation (a declined card, a half-done reservation) and through a worker's crash."""

from __future__ import annotations

import re
import secrets
from typing import Any

from django.utils import timezone

from django_interlink.models import SagaExecution, SagaStepLog
from django_interlink.sagas.graph import WAIT, StateGraph, state_graph
from django_interlink.sagas.mermaid import edge_label, saga_to_mermaid
from django_interlink.sagas.services import saga_claim_stale, worker_id
from mock_services.waiting import wait_until
from project.demo.harness import CARD_DECLINED, CARD_OK, Demo
from shop.order_processing import ORDER_PROCESSING, build_order_context, process_order_request
from tools.diagrams.saga import saga_svg

# The demo's catalogue: its products are priced in the currency its orders are placed in.
CURRENCY = "EUR"
NOTEBOOK_PRICE = 1250
PEN_PRICE = 250
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Short, so the crash scene waits about two seconds for the dead worker's lease to lapse; long
# enough that it is still live when worker B first looks, milliseconds after the "kill".
CRASH_LEASE_SECONDS = 2.0


def _customer(demo: Demo) -> str:
    """The active user the saga scenes order for (made once, so any scene can run alone)."""
    if "customer_id" not in demo.state:
        with demo.aside():
            user = demo.users.create_user(
                email=f"grace+{secrets.token_hex(3)}@example.com", name="Grace"
            )
        demo.state["customer_id"] = user["id"]
    return str(demo.state["customer_id"])


def _product(demo: Demo, name: str, on_hand: int, unit_price: int = NOTEBOOK_PRICE) -> str:
    """A product in the inventory stub's catalogue: the saga charges its price from there."""
    sku = f"{name.upper()}-{secrets.token_hex(3).upper()}"
    with demo.aside():
        product = demo.inventory.create_product(
            sku=sku, name=name, on_hand=on_hand, unit_price=unit_price, currency=CURRENCY
        )
    return str(product["id"])


def _price(demo: Demo, product_id: str) -> int:
    """The product's price in the inventory stub's catalogue, through the inventory client."""
    return int(demo.inventory.get_stock(product_id=product_id)["unit_price"] or 0)


def _stock(demo: Demo, product_id: str) -> tuple[int, int, int]:
    """(on_hand, reserved, available) as the inventory stub reports them."""
    product = demo.inventory.get_stock(product_id=product_id)
    return product["on_hand"], product["reserved"], product["available"]


def _stub_payments(demo: Demo, saga_id: str) -> list[dict[str, Any]]:
    """Every payment the payments stub holds for a saga. The API has no listing endpoint, so
    read the stub's own store, as the saga tests' ledger does: the ground truth."""
    held = demo.stubs["payments"].app.state.runtime.store.snapshot()["payments"]
    return [p for p in held if p["order_reference"] == saga_id]


def _short_ids(text: str) -> str:
    """UUIDs cut to their first 8 digits, so a line fits on a terminal."""
    return UUID_RE.sub(lambda m: m.group(0)[:8] + "…", text)


def _saga_id(label: str) -> str:
    return f"demo-{label}-{secrets.token_hex(3)}"


def _step_log(saga_id: str) -> list[SagaStepLog]:
    return list(SagaStepLog.objects.filter(execution__saga_id=saga_id).order_by("started_at", "id"))


def _print_step_log(
    demo: Demo, logs: list[SagaStepLog], *, workers: dict[str, str] | None = None
) -> None:
    """One line per attempt: step, direction, attempt number, status, duration (and error)."""
    for log in logs:
        duration = "—" if log.duration_ms is None else f"{log.duration_ms:6.1f} ms"
        status = log.outcome
        line = f"  {log.step_name:<18} {log.direction:<12} #{log.attempt}  {status:<11}"
        line += f" {duration:>9}"
        if workers is not None:
            line += f"  worker {workers.get(log.worker, '?')}"
        if log.error:
            line += f"  {_short_ids(log.error)[:70]}"
        demo.say(line)


def saga_mermaid(demo: Demo) -> None:
    """The order saga is data: its Mermaid flowchart, drawn from the engine's transitions."""
    demo.recorder.figure(
        "The order saga's states, walked from transition() (as the docs draw it)",
        saga_svg(ORDER_PROCESSING),
    )
    source = saga_to_mermaid(ORDER_PROCESSING, direction="LR")
    payment = f"a{ORDER_PROCESSING.index('process_payment')}"
    sample = [line.strip() for line in source.splitlines() if line.strip().startswith(payment)]
    demo.say(
        f"flowchart LR, {len(source.splitlines())} lines (`python -m project.demo --mermaid`"
        " prints them); process_payment's:"
    )
    demo.say("  " + "    ".join(sample))
    graph = state_graph(ORDER_PROCESSING)
    edges = _edges_by_label(graph)
    actions = [node for node in graph.nodes if node.kind == "action"]
    undos = sorted(
        (node for node in graph.nodes if node.kind == "compensation"),
        key=lambda node: node.step or 0,
        reverse=True,
    )
    demo.say("every node's edges, from the walk the flowchart is drawn from (state_graph):")
    for node in actions:
        out = edges[node.key]
        (failure,) = (label for label in out if label != "ok")
        demo.say(f"  {node.label:<24} ok -> {out['ok']:<24} {failure} -> {out[failure]}")
    for node in undos:
        out = edges[node.key]
        demo.say(f"  {node.label:<24} ok -> {out['ok']}")
        for label, to in out.items():
            if label != "ok":
                demo.say(f"  {'':<24} {label} -> {to}")
    wait = graph.node(WAIT)
    demo.say(f"  {wait.label:<24} when due -> {' | '.join(edges[WAIT].values())}")
    compensable = [s.name for s in ORDER_PROCESSING.steps if s.compensation is not None]
    demo.check(
        "every step with an undo has an undo node",
        sorted(node.label for node in undos),
        sorted(f"undo {name}" for name in compensable),
    )


def _edges_by_label(graph: StateGraph) -> dict[str, dict[str, str]]:
    """Node key -> edge label ("ok" for a success) -> its targets' labels, " | "-joined, in the
    graph's edge order."""
    targets: dict[str, dict[str, list[str]]] = {}
    for edge in graph.edges:
        label = edge_label(graph, edge) or "ok"
        by_label = targets.setdefault(edge.source, {})
        by_label.setdefault(label, []).append(graph.node(edge.target).label)
    return {
        key: {label: " | ".join(names) for label, names in by_label.items()}
        for key, by_label in targets.items()
    }


def saga_succeeds(demo: Demo) -> None:
    """process_order_request through the four stubs: each step once, COMPLETED."""
    notebook, pen = _product(demo, "Notebook", 10), _product(demo, "Pen", 50, PEN_PRICE)
    items = [
        {"product_id": notebook, "quantity": 2},
        {"product_id": pen, "quantity": 3},
    ]
    result = process_order_request(
        _customer(demo), items, CARD_OK, currency=CURRENCY, saga_id=_saga_id("ok")
    )
    _print_step_log(demo, _step_log(result.saga_id))
    demo.say(f"saga {result.saga_id}: {result.status}")
    demo.check("saga completed", result.status, "completed")
    order = demo.orders.get_order(order_id=result.context["order_id"])
    payment = demo.payments.get_payment(payment_id=result.context["payment"]["id"])
    subject = demo.stack.mail_subjects()[-1].replace(order["id"], order["id"][:8] + "…")
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
    # The order named no price: the saga charged the catalogue's, read back from the stub.
    catalogue = {pid: _price(demo, pid) for pid in (notebook, pen)}
    demo.check(
        "charged the inventory stub's prices (2 x notebook + 3 x pen)",
        (payment["amount"], [line["unit_price"] for line in order["items"]]),
        (2 * catalogue[notebook] + 3 * catalogue[pen], [catalogue[notebook], catalogue[pen]]),
    )


def saga_payment_declined(demo: Demo) -> None:
    """tok_declined at process_payment: the steps before it are undone, newest first."""
    notebook = _product(demo, "Notebook", 10)
    before = _stock(demo, notebook)
    items = [{"product_id": notebook, "quantity": 2}]
    result = process_order_request(
        _customer(demo), items, CARD_DECLINED, currency=CURRENCY, saga_id=_saga_id("declined")
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
    notebook, scarce = _product(demo, "Notebook", 10), _product(demo, "Lamp", 1, 4999)
    before = (_stock(demo, notebook), _stock(demo, scarce))
    items = [
        {"product_id": notebook, "quantity": 2},
        {"product_id": scarce, "quantity": 3},
    ]
    result = process_order_request(
        _customer(demo), items, CARD_OK, currency=CURRENCY, saga_id=_saga_id("partial")
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


def saga_crash_and_resume(demo: Demo) -> None:
    """Worker A dies right after the charge, before saving it; worker B resumes the saga."""
    notebook = _product(demo, "Notebook", 10)
    items = [{"product_id": notebook, "quantity": 2}]
    context = build_order_context(
        user_id=_customer(demo), items=items, payment_method=CARD_OK, currency=CURRENCY
    )
    saga_id, point = _saga_id("crash"), "after_action:process_payment"
    demo.stack.run_until_killed(
        saga_id=saga_id, context=context, point=point, lease_seconds=CRASH_LEASE_SECONDS
    )
    left = SagaExecution.objects.get(saga_id=saga_id)
    step = ORDER_PROCESSING.steps[left.current_step].name
    demo.say(f"worker A killed at {point} ({demo.stack.kill_how}):")
    demo.say(f"card charged, nothing saved: the row says {left.status} at {step}, leased to A")
    demo.check("a live lease keeps worker B off", saga_claim_stale(owner=worker_id(), limit=1), [])
    wait_until(
        lambda: (
            not SagaExecution.objects.filter(
                pk=left.pk, lease_expires_at__gt=timezone.now()
            ).exists()
        ),
        timeout=10 * CRASH_LEASE_SECONDS,
        interval=0.05,
        what="worker A's lease to lapse",
    )
    results = demo.stack.resume_stale()
    demo.say(f"lease lapsed; worker B ran saga_resume_stale (resume_sagas): {results}")
    logs = _step_log(saga_id)
    # The workers in the order they first appear in the log: the killed one, then its heir.
    workers = dict(zip(dict.fromkeys(log.worker for log in logs), "AB", strict=False))
    _print_step_log(demo, logs, workers=workers)
    keys = {log.idempotency_key for log in logs if log.step_name == "process_payment"}
    demo.say(f"both payment attempts sent Idempotency-Key {', '.join(sorted(keys))}")
    demo.check("saga completed after the resume", results, {saga_id: "completed"})
    demo.check("two workers ran it, A then B", sorted(workers.values()), ["A", "B"])
    demo.check(
        "stub: charged exactly once, at the catalogue's price",
        [(p["amount"], p["status"]) for p in _stub_payments(demo, saga_id)],
        [(2 * _price(demo, notebook), "captured")],
    )
    demo.check("stub: reserved exactly once", _stock(demo, notebook), (10, 2, 8))
