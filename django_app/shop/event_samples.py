"""A valid `data` payload per event type: for the demo, tests and benchmarks.

Keeping them next to the contract makes a contract change that breaks them fail the unit tests.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from django_interlink.events.envelope import Envelope

_USER = "6f1c2d9e-0000-4000-8000-00000000a001"
_ORDER = "6f1c2d9e-0000-4000-8000-00000000b001"
_PRODUCT = "00000000-0000-4000-8000-000000000001"
_PAYMENT = "6f1c2d9e-0000-4000-8000-00000000c001"
_RESERVATION = "6f1c2d9e-0000-4000-8000-00000000d001"
_CHECKOUT = "6f1c2d9e-0000-4000-8000-00000000e001"

SAMPLE_DATA: dict[str, dict[str, Any]] = {
    "user.created": {"user_id": _USER, "email": "ada@example.com", "name": "Ada"},
    "user.updated": {
        "user_id": _USER,
        "email": "ada@example.com",
        "name": "Ada L.",
        "is_active": True,
    },
    "order.created": {
        "order_id": _ORDER,
        "user_id": _USER,
        "items": [{"product_id": _PRODUCT, "quantity": 2, "unit_price": 1250}],
        "currency": "EUR",
        "total_amount": 2500,
        "payment_id": _PAYMENT,
        "reservation_ids": [_RESERVATION],
    },
    "order.cancelled": {"order_id": _ORDER, "user_id": _USER, "reason": "customer request"},
    "payment.processed": {
        "payment_id": _PAYMENT,
        "user_id": _USER,
        "order_id": _ORDER,
        "amount": 2500,
        "currency": "EUR",
    },
    "payment.refunded": {
        "payment_id": _PAYMENT,
        "refund_id": "6f1c2d9e-0000-4000-8000-00000000c002",
        "order_id": _ORDER,
        "amount": 2500,
        "currency": "EUR",
    },
    "inventory.reserved": {
        "reservation_id": _RESERVATION,
        "product_id": _PRODUCT,
        "quantity": 2,
        "order_id": _ORDER,
    },
    "inventory.released": {
        "reservation_id": _RESERVATION,
        "product_id": _PRODUCT,
        "quantity": 2,
        "order_id": _ORDER,
    },
    "inventory.low": {"product_id": _PRODUCT, "sku": "WIDGET-001", "available": 3, "threshold": 5},
    # The choreographed checkout's events (shop/choreography/participants.py).
    "checkout.requested": {
        "checkout_id": _CHECKOUT,
        "user_id": _USER,
        "items": [{"product_id": _PRODUCT, "quantity": 2}],
        "currency": "EUR",
    },
    "checkout.customer_verified": {"checkout_id": _CHECKOUT, "user_id": _USER},
    "checkout.customer_rejected": {
        "checkout_id": _CHECKOUT,
        "user_id": _USER,
        "reason": "user is not active",
    },
    "checkout.stock_reserved": {
        "checkout_id": _CHECKOUT,
        "reservation_ids": [_RESERVATION],
        "total_amount": 2500,
        "currency": "EUR",
    },
    "checkout.stock_refused": {"checkout_id": _CHECKOUT, "reason": "not enough stock"},
    "checkout.payment_captured": {
        "checkout_id": _CHECKOUT,
        "payment_id": _PAYMENT,
        "amount": 2500,
        "currency": "EUR",
    },
    "checkout.payment_failed": {"checkout_id": _CHECKOUT, "reason": "payment declined"},
    "checkout.order_placed": {
        "checkout_id": _CHECKOUT,
        "order_id": _ORDER,
        "total_amount": 2500,
        "currency": "EUR",
    },
    "checkout.order_failed": {"checkout_id": _CHECKOUT, "reason": "order not placed"},
    "checkout.payment_refunded": {
        "checkout_id": _CHECKOUT,
        "payment_id": _PAYMENT,
        "refund_id": "6f1c2d9e-0000-4000-8000-00000000c002",
        "amount": 2500,
        "currency": "EUR",
    },
    "checkout.stock_released": {"checkout_id": _CHECKOUT, "reservation_ids": [_RESERVATION]},
}


def sample_data(event_type: str, **overrides: Any) -> dict[str, Any]:
    """A fresh copy of the sample payload of `event_type`, with `overrides` applied."""
    return {**copy.deepcopy(SAMPLE_DATA[event_type]), **overrides}


def sample_envelope(event_type: str, **overrides: Any) -> Envelope:
    """A new envelope (fresh event id) carrying the sample payload."""
    return Envelope.new(
        event_type, sample_data(event_type, **overrides), correlation_id=f"test-{uuid.uuid4()}"
    )
