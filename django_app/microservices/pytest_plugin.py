"""Django-side pytest fixtures: the service clients pointed at the running stubs.

Registered by the root conftest.py. Builds on mock_services.pytest_plugin (`stubs`, `stub_token`).

    def test_reserve(services_settings, inventory_client, reset_stubs): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

from microservices.clients.inventory import InventoryServiceClient
from microservices.clients.orders import OrderServiceClient
from microservices.clients.payments import PaymentServiceClient
from microservices.clients.testing import services_settings_for
from microservices.clients.users import UserServiceClient


@pytest.fixture
def services_settings(stubs: dict[str, Any], stub_token: str) -> Iterator[dict[str, Any]]:
    """MICROSERVICES['SERVICES'] -> the running stubs (bearer stub token), contract validation
    "on", millisecond retry backoff; Django's cache (the user cache) is cleared around the test.
    Yields the MICROSERVICES dict in force."""
    conf = services_settings_for(
        {name: server.url for name, server in stubs.items()},
        stub_token,
        base=getattr(settings, "MICROSERVICES", {}),
    )
    cache.clear()
    with override_settings(MICROSERVICES=conf):
        yield conf
    cache.clear()


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
