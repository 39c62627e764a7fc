"""Scene of the choreographed checkout: the order saga's steps with no orchestrator, each
participant reacting to the event before it and publishing the next (docs/choreography.md)."""

from __future__ import annotations

import secrets

from django_interlink.events.outbox import outbox_relay
from django_interlink.models import InboxEvent, OutboxEvent
from project.demo.harness import CARD_DECLINED, CARD_OK, Demo
from shop.choreography.participants import registry
from shop.choreography.services import checkout_start
from shop.models import Checkout

# Seconds a participant waits for its event before the scene gives up on it.
IDLE_TIMEOUT = 5.0
CONSUMER_GROUP = "demo-checkout"
CURRENCY = "EUR"
NOTEBOOK_PRICE = 1250


def _customer(demo: Demo) -> str:
    user = demo.users.create_user(email=f"joan+{secrets.token_hex(3)}@example.com", name="Joan")
    return str(user["id"])


def _product(demo: Demo, name: str, on_hand: int) -> str:
    """A product of the inventory stub's catalogue, priced in the scene's currency."""
    product = demo.inventory.create_product(
        sku=f"{name.upper()}-{secrets.token_hex(3).upper()}",
        name=name,
        on_hand=on_hand,
        unit_price=NOTEBOOK_PRICE,
        currency=CURRENCY,
    )
    return str(product["id"])


def _stock(demo: Demo, product_id: str) -> tuple[int, int, int]:
    """(on_hand, reserved, available) as the inventory stub reports them."""
    product = demo.inventory.get_stock(product_id=product_id)
    return product["on_hand"], product["reserved"], product["available"]


def _follow(demo: Demo, checkout: Checkout, group: str) -> list[str]:
    """Relay, then hand the checkout's newest event to its participant, until no participant
    is left to react; the event types in the order they were published.

    Relay and participants run in this process, on the stack's bus (RabbitMQ on the real
    stack): a relay and a consumer process per hop would spend the scene starting Django.
    """
    handled = set(registry.event_types)
    while True:
        outbox_relay(bus=demo.stack.bus)
        latest = (
            OutboxEvent.objects.filter(correlation_id=str(checkout.checkout_id))
            .order_by("-id")
            .first()
        )
        if latest is None or latest.event_type not in handled:
            break
        if InboxEvent.objects.filter(event_id=latest.event_id).exists():
            break  # its participant has handled it and published nothing after it
        demo.stack.bus.consume(
            registry=registry.only([latest.event_type]),
            group=group,
            max_messages=1,
            idle_timeout=IDLE_TIMEOUT,
        )
        checkout.refresh_from_db()
        demo.say(f"{checkout.moved_by:<12} on {latest.event_type:<27} -> {checkout.status}")
    checkout.refresh_from_db()
    published = OutboxEvent.objects.filter(correlation_id=str(checkout.checkout_id))
    return list(published.order_by("id").values_list("event_type", flat=True))


def checkout_choreographed(demo: Demo) -> None:
    """The same order twice, choreographed: once placed, once with a declined card, where the
    payments participant's failure event makes the inventory participant release the stock."""
    group = demo.stack.group(CONSUMER_GROUP)
    demo.stack.declare(registry.event_types, group=group)
    notebook = _product(demo, "Notebook", 10)
    items = [{"product_id": notebook, "quantity": 2}]
    customer = _customer(demo)

    placed = checkout_start(
        user_id=customer, items=items, payment_method=CARD_OK, currency=CURRENCY
    )
    demo.say(f"checkout {str(placed.checkout_id)[:8]}…: row and checkout.requested committed")
    events = _follow(demo, placed, group)
    demo.check("placed: completed, no orchestrator", placed.status, "completed")
    demo.check(
        "five events, one per participant",
        events,
        [
            "checkout.requested",
            "checkout.customer_verified",
            "checkout.stock_reserved",
            "checkout.payment_captured",
            "checkout.order_placed",
        ],
    )

    before = _stock(demo, notebook)
    declined = checkout_start(
        user_id=customer, items=items, payment_method=CARD_DECLINED, currency=CURRENCY
    )
    demo.say(f"checkout {str(declined.checkout_id)[:8]}…: the card will be declined")
    events = _follow(demo, declined, group)
    demo.say(f"error on the row: {declined.error}")
    demo.check("declined: compensated", declined.status, "compensated")
    demo.check(
        "the compensating events: payment_failed, then stock_released",
        events[-2:],
        ["checkout.payment_failed", "checkout.stock_released"],
    )
    demo.check(f"stub: stock back to {before}", _stock(demo, notebook), before)
