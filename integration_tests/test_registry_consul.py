"""Consul registry against a real agent: HTTP checks decide discovery; failover; last-known-good.

Two users stub processes register under a per-test service name with real HTTP checks (every
second, with the stub's bearer token). Needs a Consul agent (see the `consul` fixture).
"""

from __future__ import annotations

import contextlib
import logging

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

from django_interlink.clients.base import ServiceClient
from django_interlink.clients.discovery import RegistryFailover
from django_interlink.clients.testing import services_settings_for
from django_interlink.exceptions import RegistryError
from django_interlink.registry.base import get_registry
from django_interlink.registry.checks import duration_seconds
from django_interlink.registry.consul import ConsulRegistry
from mock_services.testing import StubServer
from mock_services.waiting import wait_until

CHECK_INTERVAL = "1s"


@pytest.fixture
def registry(consul, stub_token):
    """The Consul backend on the fixture's agent, 1 s checks, discovery cached 30 s."""
    conf = services_settings_for({"users": ""}, stub_token, base=settings.INTERLINK)
    conf["REGISTRY"] = {
        **conf.get("REGISTRY", {}),
        "BACKEND": "consul",
        "CONSUL_HTTP_ADDR": consul.url,
        "CONSUL_HTTP_TOKEN": consul.password,
        "CACHE_TTL": 30,
        "HEALTH_CHECK_INTERVAL": CHECK_INTERVAL,
        "HEALTH_CHECK_TIMEOUT": "1s",
        "DEREGISTER_CRITICAL_AFTER": "1m",
    }
    cache.clear()
    with override_settings(INTERLINK=conf):
        registry = get_registry()
        assert isinstance(registry, ConsulRegistry)
        yield registry
    cache.clear()


@pytest.fixture
def instances(registry, stub_token, unique_name):
    """Two users stubs registered as service `users-<unique>`: (name, [(stub, service_id)])."""
    name = f"users-{unique_name}"
    registered: list[tuple[StubServer, str]] = []
    try:
        for _ in range(2):
            stub = StubServer("users", stub_token).start()
            service_id = registry.register_service(
                name,
                "127.0.0.1",
                stub.port,
                f"{stub.url}/users/search?q=health",
                tags=["integration-test"],
                meta={"scheme": "http"},
                check_headers={"Authorization": [f"Bearer {stub_token}"]},
            )
            registered.append((stub, service_id))
        yield name, registered
    finally:
        for stub, service_id in registered:
            with contextlib.suppress(RegistryError):  # Consul stopped by a failed test
                registry.deregister_service(service_id)
            stub.stop()


def _seconds(value: str | int) -> float | None:
    """A duration as the agent reports it: a Go duration string ("1m0s"), or nanoseconds."""
    return value / 1e9 if isinstance(value, int) else duration_seconds(value)


def _ids(registry: ConsulRegistry, name: str) -> list[str]:
    return sorted(i.service_id for i in registry.discover(name, refresh=True))


def _all_passing(
    registry: ConsulRegistry, name: str, registered: list[tuple[StubServer, str]]
) -> None:
    wait_until(
        lambda: _ids(registry, name) == sorted(sid for _, sid in registered),
        timeout=30,
        what="both instances passing their checks",
    )


def test_registration_carries_an_http_check_with_interval_timeout_and_deregister(
    registry, instances
):
    """Each instance's agent check is HTTP on its URL, with interval, timeout and reaping."""
    _name, registered = instances
    checks = registry.client.agent.checks()
    for stub, service_id in registered:
        (check,) = [c for c in checks.values() if c["ServiceID"] == service_id]
        definition = check["Definition"]
        assert check["Type"] == "http"
        assert definition["HTTP"] == f"{stub.url}/users/search?q=health"
        assert _seconds(definition["Interval"]) == 1.0
        assert _seconds(definition["Timeout"]) == 1.0
        assert _seconds(definition["DeregisterCriticalServiceAfter"]) == 60.0


def test_stopped_instance_turns_critical_and_is_no_longer_discovered(registry, instances):
    """Both instances are discovered while passing; a stopped one drops out once critical."""
    name, registered = instances
    _all_passing(registry, name, registered)
    (stopped, stopped_id), (_alive, alive_id) = registered
    stopped.stop()
    wait_until(
        lambda: _ids(registry, name) == [alive_id],
        timeout=30,
        what="the stopped instance to turn critical",
    )
    statuses = {c["ServiceID"]: c["Status"] for c in registry.client.agent.checks().values()}
    assert statuses[stopped_id] == "critical"
    assert statuses[alive_id] == "passing"


def test_client_call_fails_over_to_the_healthy_instance(registry, instances, caplog):
    """With a stopped instance still in the cached answer, every call succeeds by failing over."""
    name, registered = instances
    _all_passing(registry, name, registered)
    registry.discover(name)  # the cache now lists both for 30 s
    registered[0][0].stop()
    caplog.set_level(logging.WARNING, logger="django_interlink.clients")
    with ServiceClient("users", endpoint=RegistryFailover(name)) as client:
        statuses = [
            client.get("/users/search", operation="searchUsers", params={"q": "x"}).status_code
            for _ in range(4)
        ]
    failovers = [r for r in caplog.records if getattr(r, "event", None) == "failover"]
    assert statuses == [200, 200, 200, 200]
    assert len(failovers) >= 1  # round robin over the cached pair hits the stopped one


@pytest.mark.slow
def test_consul_stopped_serves_the_last_known_good_instances(consul, registry, instances, caplog):
    """Consul down: discovery returns the last healthy answer (warning logged), calls go on."""
    if consul.controller is None:
        pytest.skip("Consul comes from CONSUL_HTTP_ADDR: we don't own it, so we can't stop it")
    name, registered = instances
    _all_passing(registry, name, registered)
    expected = _ids(registry, name)
    caplog.set_level(logging.WARNING, logger="django_interlink.registry")
    consul.controller.stop()
    try:
        during_outage = sorted(i.service_id for i in registry.discover(name, refresh=True))
        with ServiceClient("users", endpoint=RegistryFailover(name)) as client:
            response = client.get("/users/search", operation="searchUsers", params={"q": "x"})
    finally:
        consul.controller.start()
    fallbacks = [r for r in caplog.records if getattr(r, "event", None) == "discover_fallback"]
    assert during_outage == expected
    assert response.status_code == 200
    assert len(fallbacks) >= 1


def test_deregistered_instance_disappears_from_discovery(registry, instances):
    """deregister_service removes the instance: discovery returns only the other one."""
    name, registered = instances
    _all_passing(registry, name, registered)
    (_first, first_id), (_second, second_id) = registered
    registry.deregister_service(first_id)
    wait_until(
        lambda: _ids(registry, name) == [second_id],
        timeout=30,
        what="the deregistered instance to go",
    )
    assert first_id not in registry.client.agent.services()
