"""Static registry: instances from settings, round robin / random choice, backend selection."""

from __future__ import annotations

import pytest

from django_interlink.exceptions import RegistryError, ServiceNotFound
from django_interlink.registry.base import get_registry
from django_interlink.registry.static import StaticRegistry, instance_from_url


def test_static_discovers_the_base_url_of_a_configured_service(registry_settings):
    """Without INSTANCES, a service's one instance is its SERVICES BASE_URL."""
    registry_settings(
        {"SERVICES": {"users": {"BASE_URL": "http://10.0.0.5:8001"}}}, BACKEND="static"
    )
    instances = get_registry().discover("users")
    assert [i.url for i in instances] == ["http://10.0.0.5:8001"]
    assert instances[0].address == "10.0.0.5"
    assert instances[0].port == 8001


def test_instances_setting_overrides_the_base_url(registry_settings):
    """REGISTRY INSTANCES lists every instance of a service, in order."""
    registry_settings(
        {"SERVICES": {"users": {"BASE_URL": "http://10.0.0.5:8001"}}},
        INSTANCES={"users": ["http://10.0.0.6:8001", "https://10.0.0.7"]},
    )
    urls = [i.url for i in get_registry().discover("users")]
    assert urls == ["http://10.0.0.6:8001", "https://10.0.0.7:443"]


def test_round_robin_cycles_through_every_instance(registry_settings):
    """get_service_url hands out the instances in turn."""
    urls = ["http://a:1", "http://b:2", "http://c:3"]
    registry_settings(INSTANCES={"users": urls}, STRATEGY="round_robin")
    registry = get_registry()
    assert [registry.get_service_url("users") for _ in range(6)] == urls * 2


def test_random_strategy_only_returns_configured_instances(registry_settings):
    """With STRATEGY random, every choice is one of the instances, and each gets picked."""
    urls = ["http://a:1", "http://b:2"]
    registry_settings(INSTANCES={"users": urls}, STRATEGY="random")
    registry = get_registry()
    picked = {registry.get_service_url("users") for _ in range(200)}
    assert picked == set(urls)


def test_choice_skips_excluded_instances(registry_settings):
    """An instance whose id is excluded (already tried) is never chosen."""
    registry_settings(INSTANCES={"users": ["http://a:1", "http://b:2"]})
    registry = get_registry()
    first = registry.get_instance("users")
    others = {registry.get_instance("users", exclude=[first.service_id]).url for _ in range(4)}
    assert first.url not in others
    assert len(others) == 1


def test_unknown_service_raises_service_not_found(registry_settings):
    """A name with no instance anywhere is a ServiceNotFound (a LookupError) naming it."""
    registry_settings({"SERVICES": {}})
    with pytest.raises(ServiceNotFound) as caught:
        get_registry().get_service_url("billing")
    assert caught.value.service == "billing"
    assert isinstance(caught.value, LookupError)


def test_every_instance_excluded_raises_service_not_found(registry_settings):
    """When all instances were tried, there is nothing left to choose."""
    registry_settings(INSTANCES={"users": ["http://a:1"]})
    registry = get_registry()
    only = registry.get_instance("users")
    with pytest.raises(ServiceNotFound):
        registry.get_instance("users", exclude=[only.service_id])


def test_backend_setting_picks_the_registry_class(registry_settings):
    """BACKEND 'static' builds a StaticRegistry; changing settings rebuilds it."""
    registry_settings(BACKEND="static")
    first = get_registry()
    assert isinstance(first, StaticRegistry)
    registry_settings(STRATEGY="random")
    second = get_registry()
    assert second is not first
    assert second.strategy == "random"


def test_unknown_backend_is_a_registry_error(registry_settings):
    """A BACKEND that names no ServiceRegistry class fails loudly."""
    registry_settings(BACKEND="django_interlink.conf.InterlinkSettings")
    with pytest.raises(RegistryError):
        get_registry()


def test_instance_url_without_http_scheme_is_rejected():
    """Only http(s) base URLs describe an instance."""
    with pytest.raises(RegistryError):
        instance_from_url("users", "ftp://files:21")


def test_static_register_and_deregister_change_nothing(registry_settings):
    """Registering with the static backend returns an id and leaves discovery as configured."""
    registry_settings(INSTANCES={"users": ["http://a:1"]})
    registry = get_registry()
    service_id = registry.register_service("users", "b", 2, "http://b:2/health/")
    registry.deregister_service(service_id)
    assert service_id == "users@b:2"
    assert [i.url for i in registry.discover("users")] == ["http://a:1"]
