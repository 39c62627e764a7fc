"""Where one contract's value flows into another's: the table `python -m tools.compat.agree`
checks (tools/compat/carry.py says what "fits" means).

Each `Flow` is read from the code that carries the value (`via`): the shop API's request into
the order saga's service calls (shop/order_steps.py), a service's answer into the next
call, an event's payload into a handler's calls (shop/handlers.py) or a choreography
participant's (shop/choreography/participants.py, calls.py), and into the event it publishes.
`guards` names the checks the code makes before passing the value on, each with where it is:
the checker then skips that check. The door's rules (tools/compat/door.py) own the flows that
carry their `door_rule`, and the one value no single field carries: the amount charged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tools.compat.locate import (
    EVENT,
    INVENTORY,
    ORDERS,
    PARAMETER,
    PAYMENTS,
    SHOP,
    Spot,
    event_schema,
)


@dataclass(frozen=True)
class Flow:
    """`upstream`'s value is passed to `downstream` by the code at `via`."""

    upstream: Spot
    downstream: Spot
    via: str
    guards: dict[str, str] = field(default_factory=dict)  # CHECKS name -> the code's check
    door_rule: str = ""  # the door's rule name for what this flow finds


def request(document: str, operation: str, *path: str) -> Spot:
    return Spot(document, operation, "request", path)


def response(document: str, operation: str, status: str, *path: str) -> Spot:
    return Spot(document, operation, status, path)


def parameter(document: str, operation: str, name: str) -> Spot:
    return Spot(document, operation, PARAMETER, (name,))


def event(event_type: str, *path: str) -> Spot:
    return Spot(event_schema(event_type), event_type, EVENT, ("data", *path))


# The door's values (shop.yaml's placeOrder) and what the saga passes them to.
ITEMS = request(SHOP, "placeOrder", "items")
QUANTITY = request(SHOP, "placeOrder", "items", "[]", "quantity")
SENT_PRICE = request(SHOP, "placeOrder", "items", "[]", "unit_price")
CURRENCY = request(SHOP, "placeOrder", "currency")
CATALOGUE_PRICE = response(INVENTORY, "createReservation", "201", "unit_price")
RESERVED_QUANTITY = request(INVENTORY, "createReservation", "quantity")
AMOUNT = request(PAYMENTS, "createPayment", "amount")
PAYMENT_CURRENCY = request(PAYMENTS, "createPayment", "currency")
ORDER_ITEMS = request(ORDERS, "createOrder", "items")
ORDER_QUANTITY = request(ORDERS, "createOrder", "items", "[]", "quantity")
ORDER_PRICE = request(ORDERS, "createOrder", "items", "[]", "unit_price")
ORDER_CURRENCY = request(ORDERS, "createOrder", "currency")

SAGA = "shop/order_steps.py"
CALLS = "shop/choreography/calls.py"
PARTICIPANTS = "shop/choreography/participants.py"
OVER = "quantity-over-downstream"
PRICED = "shop/prices.py::check_price refuses an unpriced reservation"

FLOWS: tuple[Flow, ...] = (
    # The shop's API into the saga's calls (the choreography's participants make the same
    # calls from the checkout row, which holds the request as the API took it).
    Flow(
        request(SHOP, "placeOrder", "items", "[]", "product_id"),
        request(INVENTORY, "createReservation", "product_id"),
        f"{SAGA}::_reserve_call",
    ),
    Flow(QUANTITY, RESERVED_QUANTITY, f"{SAGA}::_reserve_call", door_rule=OVER),
    Flow(QUANTITY, ORDER_QUANTITY, f"{SAGA}::_order_call", door_rule=OVER),
    Flow(
        request(SHOP, "placeOrder", "items", "[]", "product_id"),
        request(ORDERS, "createOrder", "items", "[]", "product_id"),
        f"{SAGA}::_order_call",
    ),
    Flow(ITEMS, ORDER_ITEMS, f"{SAGA}::_order_call", door_rule="items-over-downstream"),
    Flow(CURRENCY, PAYMENT_CURRENCY, f"{SAGA}::_payment_call", door_rule="currency-not-carried"),
    Flow(CURRENCY, ORDER_CURRENCY, f"{SAGA}::_order_call", door_rule="currency-not-carried"),
    Flow(
        request(SHOP, "placeOrder", "payment_method", "type"),
        request(PAYMENTS, "createPayment", "payment_method", "type"),
        f"{SAGA}::_payment_call",
    ),
    Flow(
        request(SHOP, "placeOrder", "payment_method", "token"),
        request(PAYMENTS, "createPayment", "payment_method", "token"),
        f"{SAGA}::_payment_call",
    ),
    # One service's answer into the next call.
    Flow(
        CATALOGUE_PRICE,
        ORDER_PRICE,
        f"{SAGA}::_order_call",
        guards={"null": PRICED},
        door_rule="price-outside-orders",
    ),
    Flow(
        response(INVENTORY, "createReservation", "201", "id"),
        request(ORDERS, "createOrder", "reservation_ids", "[]"),
        f"{SAGA}::_order_call",
    ),
    Flow(
        response(PAYMENTS, "createPayment", "201", "id"),
        request(ORDERS, "createOrder", "payment_id"),
        f"{SAGA}::_order_call",
    ),
    # The shop's handlers (shop/handlers.py).
    Flow(
        event("order.created", "items", "[]", "product_id"),
        parameter(INVENTORY, "getProduct", "product_id"),
        "shop/handlers.py::products_running_low",
    ),
    Flow(
        event("order.created", "order_id"),
        event("inventory.low", "order_id"),
        "shop/handlers.py::products_running_low",
    ),
    Flow(
        response(INVENTORY, "getProduct", "200", "sku"),
        event("inventory.low", "sku"),
        "shop/handlers.py::products_running_low",
    ),
    Flow(
        response(INVENTORY, "getProduct", "200", "available"),
        event("inventory.low", "available"),
        "shop/handlers.py::products_running_low",
    ),
    # The choreography: what each participant reads from its event (see READS in
    # tools/tests/test_compat_agree.py, which keeps this list complete).
    Flow(
        event("checkout.requested", "user_id"),
        event("checkout.customer_verified", "user_id"),
        f"{PARTICIPANTS}::on_requested",
    ),
    Flow(
        event("checkout.requested", "user_id"),
        event("checkout.customer_rejected", "user_id"),
        f"{PARTICIPANTS}::on_requested",
    ),
    Flow(
        event("checkout.customer_verified", "checkout_id"),
        request(INVENTORY, "createReservation", "order_reference"),
        f"{CALLS}::reserve_stock",
    ),
    Flow(
        event("checkout.stock_reserved", "total_amount"),
        AMOUNT,
        f"{CALLS}::charge",
    ),
    Flow(
        event("checkout.stock_reserved", "checkout_id"),
        request(PAYMENTS, "createPayment", "order_reference"),
        f"{CALLS}::charge",
    ),
    Flow(
        event("checkout.payment_captured", "payment_id"),
        request(ORDERS, "createOrder", "payment_id"),
        f"{CALLS}::place_order",
    ),
)

# Event fields a participant reads only to find the shop's own row (not passed to a contract).
KEYS: dict[str, str] = {
    "checkout_id": "the checkout row's key (shop.models.Checkout), read by every participant",
}
