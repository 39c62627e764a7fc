"""RegistryFailover against real stubs: base URL from the registry, failover per call."""

from __future__ import annotations

import logging
import socket

import pytest

from django_interlink.clients.base import ServiceClient
from django_interlink.clients.discovery import RegistryFailover
from django_interlink.clients.endpoint import StaticEndpoint
from django_interlink.clients.factory import build_client
from django_interlink.exceptions import ServiceConnectionError, ServiceNotFound, ServiceUnavailable
from shop.clients.users import UserServiceClient


def _users_through_registry() -> ServiceClient:
    return ServiceClient("users", endpoint=RegistryFailover("users"))


@pytest.fixture
def users_instances(services_settings, registry_settings):
    """`users_instances(url, ...)`: the static registry lists these users instances, in order."""

    def apply(*urls):
        registry_settings(services_settings, BACKEND="static", INSTANCES={"users": list(urls)})

    return apply


@pytest.fixture
def failover_log(caplog):
    caplog.set_level(logging.WARNING, logger="django_interlink.clients")
    return lambda: [r for r in caplog.records if getattr(r, "event", None) == "failover"]


def test_call_goes_to_the_instance_the_registry_returns(users_instances, reset_stubs):
    """With one registered instance, the client's calls reach it."""
    users_instances(reset_stubs["users"].url)
    with _users_through_registry() as client:
        response = client.get("/users/search", operation="searchUsers", params={"q": "x"})
    assert response.status_code == 200


def test_unreachable_instance_fails_over_to_a_healthy_one(
    users_instances, reset_stubs, dead_url, failover_log
):
    """A GET whose chosen instance refuses connections is answered by the other instance."""
    users_instances(dead_url, reset_stubs["users"].url)
    with _users_through_registry() as client:
        response = client.get("/users/search", operation="searchUsers", params={"q": "x"})
    assert response.status_code == 200
    assert len(failover_log()) == 1


def test_post_without_idempotency_key_fails_over_when_never_connected(
    users_instances, reset_stubs, dead_url
):
    """A refused connection means nothing was sent, so even a plain POST may go elsewhere."""
    users_instances(dead_url, reset_stubs["users"].url)
    body = {"email": "ada@example.com", "name": "Ada"}
    with _users_through_registry() as client:
        created = client.post("/users", operation="createUser", json=body)
        found = client.get("/users/search", operation="searchUsers", params={"q": "ada@"})
    assert created.status_code == 201
    assert found.data["count"] == 1


def test_every_instance_unreachable_raises_service_connection_error(
    users_instances, services_settings, dead_url
):
    """Each instance is tried once; then ServiceConnectionError names the ones tried."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        other_dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    users_instances(dead_url, other_dead)
    with _users_through_registry() as client, pytest.raises(ServiceConnectionError) as caught:
        client.get("/users/search", operation="searchUsers", params={"q": "x"})
    message = str(caught.value)
    assert dead_url.removeprefix("http://") in message
    assert other_dead.removeprefix("http://") in message
    assert caught.value.service == "users"


def test_no_instance_at_all_raises_service_not_found(users_instances):
    """A service the registry knows no instance of fails before any request."""
    users_instances()
    with _users_through_registry() as client, pytest.raises(ServiceNotFound):
        client.get("/users/search", operation="searchUsers", params={"q": "x"})


def test_build_client_with_discovery_on_sends_typed_calls_through_the_registry(
    services_settings, registry_settings, reset_stubs, dead_url, failover_log
):
    """A service whose DISCOVERY is on gets a typed client that resolves and fails over."""
    conf = dict(services_settings)
    conf["SERVICES"] = {
        **conf["SERVICES"],
        "users": {**conf["SERVICES"]["users"], "DISCOVERY": True},
    }
    registry_settings(
        conf, BACKEND="static", INSTANCES={"users": [dead_url, reset_stubs["users"].url]}
    )
    with build_client(UserServiceClient) as client:
        created = client.create_user(email="grace@example.com", name="Grace")
        assert isinstance(client, UserServiceClient)
        assert isinstance(client.endpoint, RegistryFailover)
        assert client.get_user(user_id=created["id"], use_cache=False)["email"] == created["email"]
    assert len(failover_log()) >= 1


def test_build_client_with_discovery_off_uses_the_configured_base_url(services_settings):
    """DISCOVERY off (the default): a plain typed client on the SERVICES BASE_URL."""
    with build_client(UserServiceClient) as client:
        assert type(client) is UserServiceClient
        assert client.endpoint == StaticEndpoint(
            services_settings["SERVICES"]["users"]["BASE_URL"], service="users"
        )


def test_an_attempt_lost_on_one_instance_is_remembered_on_the_next(
    users_instances, reset_stubs, dead_url
):
    """A keyed POST whose connection drops on the first instance (sent, unanswered), then
    refused on the next: the call may have been applied, whatever the last error says."""
    reset_stubs["users"].faults.add(method="POST", path="/users", kind="drop", times=0)
    users_instances(reset_stubs["users"].url, dead_url)
    body = {"email": "ada@example.com", "name": "Ada"}
    with _users_through_registry() as client, pytest.raises(ServiceConnectionError) as caught:
        client.post("/users", operation="createUser", json=body, idempotency_key="k-1")
    assert caught.value.sent_unanswered is True


def test_a_refused_instance_then_server_errors_are_accounted_for(
    users_instances, reset_stubs, dead_url
):
    """Refused on the first instance (never sent), 503s until the retries run out on the next
    (answered): no attempt is unaccounted for."""
    reset_stubs["users"].faults.add(method="POST", path="/users", kind="error", status=503, times=0)
    users_instances(dead_url, reset_stubs["users"].url)
    body = {"email": "ada@example.com", "name": "Ada"}
    with _users_through_registry() as client, pytest.raises(ServiceUnavailable) as caught:
        client.post("/users", operation="createUser", json=body, idempotency_key="k-2")
    assert caught.value.sent_unanswered is False
