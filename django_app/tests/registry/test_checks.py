"""System checks of INTERLINK['REGISTRY']: each misconfiguration has its id and a hint."""

from __future__ import annotations

import pytest
from django.core.checks import CheckMessage

from django_interlink.registry.checks import check_registry_settings, duration_seconds


def _ids(messages: list[CheckMessage]) -> list[str]:
    return sorted({str(m.id) for m in messages})


def test_default_settings_pass_every_registry_check(registry_settings):
    """The embedded defaults (static backend) raise no registry error or warning."""
    registry_settings()
    assert check_registry_settings() == []


def test_consul_backend_with_defaults_passes(registry_settings):
    """BACKEND consul with an agent address and default durations is a valid configuration."""
    registry_settings(BACKEND="consul", CONSUL_HTTP_ADDR="127.0.0.1:8500")
    assert check_registry_settings() == []


@pytest.mark.parametrize(
    ("registry", "expected"),
    [
        ({"BACKEND": "zookeeper"}, "interlink.E020"),
        ({"BACKEND": "consul", "CONSUL_HTTP_ADDR": "host:notaport"}, "interlink.E021"),
        ({"STRATEGY": "least_loaded"}, "interlink.E022"),
        ({"CACHE_TTL": -1}, "interlink.E023"),
        ({"CACHE_TTL": "30"}, "interlink.E023"),
        ({"HEALTH_CHECK_INTERVAL": "10 seconds"}, "interlink.E024"),
        ({"DEREGISTER_CRITICAL_AFTER": 60}, "interlink.E024"),
        ({"BACKEND": "consul", "CONSUL_SCHEME": "grpc"}, "interlink.E025"),
        ({"INSTANCES": {"users": ["10.0.0.5:8001"]}}, "interlink.E026"),
        ({"INSTANCES": ["http://a:1"]}, "interlink.E026"),
        ({"SERVICE_PORT": 0}, "interlink.E027"),
        ({"SERVICE_NAME": ""}, "interlink.E027"),
        ({"HEALTH_CHECK_URL": "/health/"}, "interlink.E028"),
        ({"BACKEND": "consul", "CONSUL_TIMEOUT": 0}, "interlink.E029"),
        ({"CACHE_ALIAS": "nowhere"}, "interlink.E030"),
        ({"SERVICE_TAGS": "web"}, "interlink.E031"),
        ({"DEREGISTER_CRITICAL_AFTER": "30s"}, "interlink.W020"),
        ({"HEALTH_CHECK_INTERVAL": "5s", "HEALTH_CHECK_TIMEOUT": "10s"}, "interlink.W021"),
    ],
)
def test_misconfiguration_is_reported_with_its_id_and_a_hint(registry_settings, registry, expected):
    """Each bad REGISTRY value yields exactly its check id, with a hint saying what to set."""
    registry_settings(**registry)
    messages = check_registry_settings()
    assert _ids(messages) == [expected]
    assert all(m.hint for m in messages)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10.0), ("1m30s", 90.0), ("500ms", 0.5), ("2h", 7200.0), ("10", None), ("", None)],
)
def test_duration_seconds_reads_go_durations(text, seconds):
    """Consul's Go duration strings are parsed; anything else is rejected as None."""
    assert duration_seconds(text) == seconds
