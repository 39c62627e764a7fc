"""Fixtures for the order saga: a shop on the stubs (an active user, stock) and invariant checks."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from microservices.clients.inventory import InventoryServiceClient
from microservices.clients.orders import OrderServiceClient
from microservices.clients.payments import PaymentServiceClient
from microservices.clients.users import UserServiceClient
from mock_services.inventory.store import GADGET_ID, WIDGET_ID

WIDGET_PRICE = 1250
GADGET_PRICE = 4999


class Shop:
    """The stubs seen through the Django clients, for arranging and for checking invariants."""

    def __init__(self, stubs: dict[str, Any]) -> None:
        self.stubs = stubs
        self.users = UserServiceClient()
        self.orders = OrderServiceClient()
        self.payments = PaymentServiceClient()
        self.inventory = InventoryServiceClient()

    def user(self, *, active: bool = True, email: str = "ada@example.com") -> str:
        return self.users.create_user(email=email, name="Ada", is_active=active)["id"]

    def stock(self) -> dict[str, tuple[int, int]]:
        """product id -> (on_hand, reserved)."""
        out = {}
        for pid in (WIDGET_ID, GADGET_ID):
            p = self.inventory.get_stock(product_id=pid)
            out[pid] = (p["on_hand"], p["reserved"])
        return out

    def faults(self, service: str):
        return self.stubs[service].faults

    def close(self) -> None:
        for c in (self.users, self.orders, self.payments, self.inventory):
            c.close()


def two_items(widgets: int = 2, gadgets: int = 1) -> list[dict[str, Any]]:
    return [
        {"product_id": WIDGET_ID, "quantity": widgets, "unit_price": WIDGET_PRICE},
        {"product_id": GADGET_ID, "quantity": gadgets, "unit_price": GADGET_PRICE},
    ]


@pytest.fixture
def saga_settings(services_settings: dict[str, Any]):
    """services_settings plus quick compensation retries and a short client timeout."""
    conf = dict(services_settings)
    conf["SAGA"] = {
        "LEASE_SECONDS": 30,
        "STEP_TIMEOUT": 10.0,
        "COMPENSATION_ATTEMPTS": 3,
        "COMPENSATION_BACKOFF": 0.01,
    }
    with override_settings(MICROSERVICES=conf):
        yield conf


@pytest.fixture
def shop(saga_settings, reset_stubs):
    s = Shop(reset_stubs)
    yield s
    s.close()
