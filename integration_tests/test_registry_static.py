"""Static registry with real stub processes: round robin across instances, failover on a stop."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.test import override_settings

from django_interlink.clients.base import ServiceClient
from django_interlink.clients.discovery import RegistryFailover
from django_interlink.clients.testing import services_settings_for
from django_interlink.exceptions import ServiceConnectionError
from mock_services.testing import StubServer


@pytest.fixture
def two_users_stubs(stub_token):
    """Two separate users stubs (each with its own data) on free ports."""
    first, second = StubServer("users", stub_token).start(), StubServer("users", stub_token).start()
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


@pytest.fixture
def static_instances(two_users_stubs, stub_token):
    """REGISTRY static, users instances = the two stubs; INTERLINK otherwise as the tests'."""
    first, second = two_users_stubs
    conf = services_settings_for({"users": first.url}, stub_token, base=settings.INTERLINK)
    conf["REGISTRY"] = {
        **conf.get("REGISTRY", {}),
        "BACKEND": "static",
        "STRATEGY": "round_robin",
        "INSTANCES": {"users": [first.url, second.url]},
    }
    with override_settings(INTERLINK=conf):
        yield first, second


def _count(client: ServiceClient, q: str) -> int:
    response = client.get("/users/search", operation="searchUsers", params={"q": q})
    count: int = response.data["count"]
    return count


def test_round_robin_alternates_between_the_two_stub_processes(static_instances, unique_name):
    """A user created through one call exists on one instance only: calls alternate instances."""
    email = f"{unique_name}@example.com"
    with ServiceClient("users", endpoint=RegistryFailover("users")) as client:
        client.post("/users", operation="createUser", json={"email": email, "name": "Ada"})
        counts = [_count(client, email) for _ in range(4)]
    assert counts == [0, 1, 0, 1]


def test_get_fails_over_when_an_instance_process_is_stopped(static_instances, caplog):
    """After one stub stops, every GET still succeeds: the failed instance hands over in-call."""
    first, _second = static_instances
    caplog.set_level(logging.WARNING, logger="django_interlink.clients")
    with ServiceClient("users", endpoint=RegistryFailover("users")) as client:
        assert _count(client, "nobody") == 0  # warms the connection pool to both instances
        assert _count(client, "nobody") == 0
        first.stop()
        counts = [_count(client, "nobody") for _ in range(4)]
    failovers = [r for r in caplog.records if getattr(r, "event", None) == "failover"]
    assert counts == [0, 0, 0, 0]
    assert len(failovers) == 2  # round robin picks the stopped one every other call


def test_every_instance_stopped_raises_service_connection_error(static_instances):
    """With both stub processes stopped the call ends in ServiceConnectionError."""
    for stub in static_instances:
        stub.stop()
    with (
        ServiceClient("users", endpoint=RegistryFailover("users")) as client,
        pytest.raises(ServiceConnectionError),
    ):
        _count(client, "nobody")
