"""pytest fixtures of the shop's typed clients, each pointed at its running stub.

Registered by the root conftest.py; builds on django_interlink.pytest_plugin (`services_settings`).

    def test_reserve(inventory_client, reset_stubs): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shop.clients.inventory import InventoryServiceClient
from shop.clients.orders import OrderServiceClient
from shop.clients.payments import PaymentServiceClient
from shop.clients.users import UserServiceClient


@pytest.fixture
def users_client(services_settings: dict[str, Any]) -> Iterator[UserServiceClient]:
    with UserServiceClient() as client:
        yield client


@pytest.fixture
def orders_client(services_settings: dict[str, Any]) -> Iterator[OrderServiceClient]:
    with OrderServiceClient() as client:
        yield client


@pytest.fixture
def payments_client(services_settings: dict[str, Any]) -> Iterator[PaymentServiceClient]:
    with PaymentServiceClient() as client:
        yield client


@pytest.fixture
def inventory_client(services_settings: dict[str, Any]) -> Iterator[InventoryServiceClient]:
    with InventoryServiceClient() as client:
        yield client
