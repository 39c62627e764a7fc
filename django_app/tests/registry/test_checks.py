"""System checks of MICROSERVICES['REGISTRY']: each misconfiguration has its id and a hint."""

from __future__ import annotations

import pytest
from django.core.checks import CheckMessage

from microservices.registry.checks import check_registry_settings, duration_seconds


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
        ({"BACKEND": "zookeeper"}, "microservices.E020"),
        ({"BACKEND": "consul", "CONSUL_HTTP_ADDR": "host:notaport"}, "microservices.E021"),
        ({"STRATEGY": "least_loaded"}, "microservices.E022"),
        ({"CACHE_TTL": -1}, "microservices.E023"),
        ({"CACHE_TTL": "30"}, "microservices.E023"),
        ({"HEALTH_CHECK_INTERVAL": "10 seconds"}, "microservices.E024"),
        ({"DEREGISTER_CRITICAL_AFTER": 60}, "microservices.E024"),
        ({"BACKEND": "consul", "CONSUL_SCHEME": "grpc"}, "microservices.E025"),
        ({"INSTANCES": {"users": ["10.0.0.5:8001"]}}, "microservices.E026"),
        ({"INSTANCES": ["http://a:1"]}, "microservices.E026"),
        ({"SERVICE_PORT": 0}, "microservices.E027"),
        ({"SERVICE_NAME": ""}, "microservices.E027"),
        ({"HEALTH_CHECK_URL": "/health/"}, "microservices.E028"),
        ({"BACKEND": "consul", "CONSUL_TIMEOUT": 0}, "microservices.E029"),
        ({"CACHE_ALIAS": "nowhere"}, "microservices.E030"),
        ({"SERVICE_TAGS": "web"}, "microservices.E031"),
        ({"DEREGISTER_CRITICAL_AFTER": "30s"}, "microservices.W020"),
        ({"HEALTH_CHECK_INTERVAL": "5s", "HEALTH_CHECK_TIMEOUT": "10s"}, "microservices.W021"),
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
