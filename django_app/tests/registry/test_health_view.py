"""/health/ on the embedded defaults and with unreachable dependencies (SQLite, no servers).

The same endpoint against real RabbitMQ, Redis and PostgreSQL: integration_tests/test_health.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse

from microservices.health import redact


@pytest.fixture
def bus_settings(registry_settings):
    def apply(**bus):
        from django.conf import settings

        conf: dict[str, Any] = dict(settings.MICROSERVICES)
        conf["EVENT_BUS"] = {**conf.get("EVENT_BUS", {}), **bus}
        registry_settings(conf)

    return apply


@pytest.mark.django_db
def test_health_is_ok_on_the_embedded_defaults(client, bus_settings):
    """SQLite up, memory bus (no broker), no Redis, static registry: 200 and status ok."""
    bus_settings(BACKEND="memory", REDIS_URL="")
    response = client.get(reverse("microservices:health"))
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert {k: v["status"] for k, v in body["components"].items()} == {
        "database": "up",
        "broker": "not_applicable",
        "redis": "not_configured",
        "registry": "up",
    }


@pytest.mark.django_db
def test_unreachable_broker_turns_health_503_without_leaking_credentials(
    client, bus_settings, dead_url
):
    """A RabbitMQ bus whose broker refuses connections: 503, broker down, password not shown."""
    port = dead_url.rsplit(":", 1)[1]
    bus_settings(BACKEND="rabbitmq", RABBITMQ_URL=f"amqp://app:s3cret@127.0.0.1:{port}/%2F")
    response = client.get(reverse("microservices:health"))
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["components"]["broker"]["status"] == "down"
    assert body["components"]["database"]["status"] == "up"
    assert "s3cret" not in response.content.decode()


@pytest.mark.django_db
def test_unreachable_redis_and_registry_are_reported_down(client, bus_settings, dead_url):
    """Redis bus and Consul registry both unreachable: each component says down, with a detail."""
    port = dead_url.rsplit(":", 1)[1]
    bus_settings(BACKEND="redis", REDIS_URL=f"redis://127.0.0.1:{port}/0")
    from django.conf import settings

    conf: dict[str, Any] = dict(settings.MICROSERVICES)
    conf["REGISTRY"] = {**conf["REGISTRY"], "BACKEND": "consul", "CONSUL_HTTP_ADDR": dead_url}
    with override_settings(MICROSERVICES=conf):
        response = client.get(reverse("microservices:health"))
    components = response.json()["components"]
    assert response.status_code == 503
    assert {k: v["status"] for k, v in components.items()} == {
        "database": "up",
        "broker": "down",
        "redis": "down",
        "registry": "down",
    }
    assert components["registry"]["detail"].startswith("RegistryUnavailable")


def test_health_only_answers_safe_methods(client):
    """POST /health/ is 405: the endpoint never changes anything."""
    assert client.post(reverse("microservices:health")).status_code == 405


def test_redact_removes_user_and_password_from_urls():
    """Error details keep host and port but drop credentials."""
    assert redact("cannot reach amqp://u:p@h:5672/%2F") == "cannot reach amqp://***@h:5672/%2F"
