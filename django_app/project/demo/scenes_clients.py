"""Scenes of the typed clients: one order through the four services, then one failure each
(a 503 retried, a declined card, a body that breaks the contract, a response lost on the way)."""

from __future__ import annotations

import secrets

from django_interlink.exceptions import ContractViolation, PaymentDeclined
from project.demo.harness import CARD_DECLINED, CARD_OK, Demo


def order_flow(demo: Demo) -> None:
    """A user, a product, a reservation, a payment and an order: the happy path."""
    user = demo.users.create_user(email=f"ada+{secrets.token_hex(3)}@example.com", name="Ada")
    product = demo.inventory.create_product(
        sku=f"BOOK-{secrets.token_hex(3).upper()}",
        name="Notebook",
        on_hand=10,
        unit_price=1250,
        currency="EUR",
    )
    reservation = demo.inventory.reserve_item(
        product_id=product["id"], quantity=2, order_reference="demo-order-1"
    )
    # The price is the catalogue's, as the reservation recorded it.
    unit_price = reservation["unit_price"]
    assert unit_price is not None  # the product was created with one
    payment = demo.payments.process_payment(
        user_id=user["id"],
        amount=2 * unit_price,
        currency=reservation["currency"],
        card_token=CARD_OK,
        order_reference="demo-order-1",
        idempotency_key=f"demo-order-1-payment-{user['id']}",
    )
    order = demo.orders.create_order(
        user_id=user["id"],
        items=[{"product_id": product["id"], "quantity": 2, "unit_price": unit_price}],
        currency=reservation["currency"],
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
    demo.check(
        "order confirmed, total 2 x 12.50",
        (order["status"], order["total_amount"]),
        ("confirmed", 2500),
    )
    demo.check(
        "stock: 2 of 10 reserved",
        (stock["on_hand"], stock["reserved"], stock["available"]),
        (10, 2, 8),
    )


def retried_503(demo: Demo) -> None:
    """The inventory answers 503 once: urllib3 retries with backoff and the call succeeds."""
    product = demo.state["product"]
    demo.stubs["inventory"].faults.add(
        method="GET", path="/products/{product_id}", kind="error", status=503, times=1
    )
    stock = demo.inventory.get_stock(product_id=product["id"])
    demo.say(f"got the stock anyway: available={stock['available']}")
    received = demo.stubs["inventory"].requests(method="GET", path=f"/products/{product['id']}")
    demo.check(
        "stub: the GET arrived twice, answered 503 then 200",
        [r["status"] for r in received[-2:]],
        [503, 200],
    )


def declined_card(demo: Demo) -> None:
    """tok_declined: the payments service answers 402, raised as a typed PaymentDeclined."""
    raised: int | None = None
    try:
        demo.payments.process_payment(
            user_id=demo.state["user"]["id"], amount=999, currency="EUR", card_token=CARD_DECLINED
        )
    except PaymentDeclined as exc:
        demo.say(f"PaymentDeclined: status {exc.status_code}, type {exc.problem.get('type')}")
        raised = exc.status_code
    demo.check("the declined card raised PaymentDeclined, status", raised, 402)


def malformed_response(demo: Demo) -> None:
    """The orders service returns a body that breaks its contract: caught as ContractViolation."""
    demo.stubs["orders"].faults.add(method="GET", path="/orders/{order_id}", kind="malformed")
    caught: str | None = None
    try:
        demo.orders.get_order(order_id=demo.state["order"]["id"])
    except ContractViolation as exc:
        demo.say(f"ContractViolation in {exc.operation}, field {exc.field!r}: {exc.message}")
        caught = exc.operation
    demo.check("the malformed body raised ContractViolation, in operation", caught, "getOrder")


def lost_response(demo: Demo) -> None:
    """The reservation is made but its response is lost: the keyed retry replays it, once."""
    product = demo.state["product"]
    with demo.aside():
        before = demo.inventory.get_stock(product_id=product["id"])["reserved"]
    demo.stubs["inventory"].faults.add(method="POST", path="/reservations", kind="lost_response")
    demo.inventory.reserve_item(product_id=product["id"], quantity=1)
    with demo.aside("check"):
        after = demo.inventory.get_stock(product_id=product["id"])["reserved"]
    demo.say(f"reserved {before} -> {after}: applied once despite the retry")
    keys = [r["idempotency_key"] for r in demo.stubs["inventory"].requests(method="POST")[-2:]]
    demo.check("stub: both attempts carried the same Idempotency-Key", len(set(keys)), 1)
    demo.check("reserved moved by exactly one reservation", after - before, 1)
