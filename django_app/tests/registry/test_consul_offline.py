"""Consul registry code paths that need no agent: an unreachable Consul, the fallback cache.

The behaviour against a real agent is in integration_tests/test_registry_consul.py.
"""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache

from django_interlink.exceptions import RegistryError, RegistryUnavailable
from django_interlink.registry.base import ServiceInstance, get_registry
from django_interlink.registry.consul import ConsulRegistry, parse_address


@pytest.fixture
def unreachable_consul(registry_settings, dead_url):
    """The Consul backend pointed at a port where nothing listens."""
    registry_settings(BACKEND="consul", CONSUL_HTTP_ADDR=dead_url, CONSUL_TIMEOUT=1.0)
    registry = get_registry()
    assert isinstance(registry, ConsulRegistry)
    return registry


def test_discover_without_consul_or_history_raises_registry_unavailable(unreachable_consul):
    """Nothing known and Consul unreachable: RegistryUnavailable (a ConnectionError)."""
    with pytest.raises(RegistryUnavailable) as caught:
        unreachable_consul.discover("users")
    assert isinstance(caught.value, ConnectionError)
    assert "discovering 'users'" in str(caught.value)


def test_last_known_good_instances_are_served_with_a_warning(unreachable_consul, caplog):
    """With a last-known-good list cached and Consul unreachable, that list is returned."""
    known = ServiceInstance("users-a", "users", "10.0.0.5", 8001)
    cache.set(unreachable_consul._key("good", "users"), [known.to_dict()], None)
    with caplog.at_level(logging.WARNING, logger="django_interlink.registry"):
        instances = unreachable_consul.discover("users", refresh=True)
    assert instances == [known]
    ours = [r for r in caplog.records if r.name == "django_interlink.registry"]
    events = [getattr(r, "event", None) for r in ours]
    assert events == ["discover_fallback"]


def test_fresh_cache_answers_without_asking_consul(unreachable_consul):
    """Within CACHE_TTL the cached answer is used (no request, so no error from the dead agent)."""
    known = ServiceInstance("users-a", "users", "10.0.0.5", 8001)
    cache.set(unreachable_consul._key("fresh", "users"), [known.to_dict()], 30)
    assert unreachable_consul.discover("users") == [known]
    with pytest.raises(RegistryUnavailable):
        unreachable_consul.discover("users", refresh=True)


def test_register_and_ping_without_consul_raise_registry_unavailable(unreachable_consul):
    """Registration and the health ping report an unreachable agent as RegistryUnavailable."""
    with pytest.raises(RegistryUnavailable):
        unreachable_consul.register_service("users", "127.0.0.1", 8001, "http://x/health/")
    with pytest.raises(RegistryUnavailable):
        unreachable_consul.ping()


def test_settings_token_wins_over_the_environment(registry_settings, monkeypatch):
    """The ACL token from settings is the one sent, even when CONSUL_HTTP_TOKEN is set."""
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", "from-env")
    registry_settings(BACKEND="consul", CONSUL_HTTP_TOKEN="from-settings")
    registry = get_registry()
    assert isinstance(registry, ConsulRegistry)
    assert registry.client.token == "from-settings"
    assert "from-settings" not in repr(registry)


@pytest.mark.parametrize(
    ("addr", "expected"),
    [
        ("", ("http", "127.0.0.1", 8500)),
        ("consul:8500", ("http", "consul", 8500)),
        ("https://consul.internal:8501", ("https", "consul.internal", 8501)),
    ],
)
def test_consul_address_forms(addr, expected):
    """host:port and scheme://host:port are accepted; empty means the local agent."""
    assert parse_address(addr) == expected


def test_malformed_consul_address_is_a_registry_error():
    """A port that is not a number is a configuration error, not a crash."""
    with pytest.raises(RegistryError):
        parse_address("consul:eighty")
