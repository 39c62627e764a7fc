"""/health/live/ and /health/ready/ on the embedded defaults and with unreachable dependencies
(SQLite, no servers). Readiness against real RabbitMQ, Redis and PostgreSQL:
integration_tests/test_health.py.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

from django_interlink.health import redact


@pytest.fixture
def bus_settings(registry_settings):
    def apply(**bus):
        conf: dict[str, Any] = dict(settings.INTERLINK)
        conf["EVENT_BUS"] = {**conf.get("EVENT_BUS", {}), **bus}
        registry_settings(conf)

    return apply


@pytest.mark.django_db
def test_health_is_ok_on_the_embedded_defaults(admin_client, bus_settings):
    """SQLite up, memory bus (no broker), no Redis, static registry: 200 and status ok."""
    bus_settings(BACKEND="memory", REDIS_URL="")
    response = admin_client.get(reverse("interlink:readiness"))
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
    admin_client, bus_settings, dead_url
):
    """A RabbitMQ bus whose broker refuses connections: 503, broker down, password not shown."""
    port = dead_url.rsplit(":", 1)[1]
    bus_settings(BACKEND="rabbitmq", RABBITMQ_URL=f"amqp://app:s3cret@127.0.0.1:{port}/%2F")
    response = admin_client.get(reverse("interlink:readiness"))
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["components"]["broker"]["status"] == "down"
    assert body["components"]["database"]["status"] == "up"
    assert "s3cret" not in response.content.decode()


@pytest.mark.django_db
def test_unreachable_redis_and_registry_are_reported_down(admin_client, bus_settings, dead_url):
    """Redis bus and Consul registry both unreachable: each component says down, with a detail."""
    port = dead_url.rsplit(":", 1)[1]
    bus_settings(BACKEND="redis", REDIS_URL=f"redis://127.0.0.1:{port}/0")
    conf: dict[str, Any] = dict(settings.INTERLINK)
    conf["REGISTRY"] = {**conf["REGISTRY"], "BACKEND": "consul", "CONSUL_HTTP_ADDR": dead_url}
    with override_settings(INTERLINK=conf):
        response = admin_client.get(reverse("interlink:readiness"))
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
    """POST is 405 on both endpoints: they never change anything."""
    assert client.post(reverse("interlink:liveness")).status_code == 405
    assert client.post(reverse("interlink:readiness")).status_code == 405


def test_redact_removes_user_and_password_from_urls():
    """Error details keep host and port but drop credentials."""
    assert redact("cannot reach amqp://u:p@h:5672/%2F") == "cannot reach amqp://***@h:5672/%2F"


@pytest.mark.django_db
def test_liveness_checks_no_dependency_and_discloses_nothing(client, bus_settings, dead_url):
    """/health/live/ is 200 with only a status, even when every dependency is down."""
    port = dead_url.rsplit(":", 1)[1]
    bus_settings(BACKEND="redis", REDIS_URL=f"redis://127.0.0.1:{port}/0")
    response = client.get(reverse("interlink:liveness"))
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.django_db
def test_anonymous_readiness_gives_the_status_without_details(client, bus_settings, dead_url):
    """Without staff or the token, readiness says only ok/unavailable (no versions, no errors)."""
    bus_settings(BACKEND="memory", REDIS_URL="")
    up = client.get(reverse("interlink:readiness"))
    port = dead_url.rsplit(":", 1)[1]
    bus_settings(BACKEND="rabbitmq", RABBITMQ_URL=f"amqp://127.0.0.1:{port}/%2F")
    down = client.get(reverse("interlink:readiness"))
    assert (up.status_code, up.json()) == (200, {"status": "ok"})
    assert (down.status_code, down.json()) == (503, {"status": "unavailable"})


@pytest.mark.django_db
def test_the_health_token_reads_the_details(client, bus_settings, registry_settings):
    """A bearer token equal to HEALTH['TOKEN'] sees the components; a wrong one does not."""
    conf: dict[str, Any] = dict(settings.INTERLINK)
    conf["EVENT_BUS"] = {**conf["EVENT_BUS"], "BACKEND": "memory", "REDIS_URL": ""}
    conf["HEALTH"] = {"TOKEN": "probe-secret"}
    registry_settings(conf)
    url = reverse("interlink:readiness")
    right = client.get(url, headers={"Authorization": "Bearer probe-secret"})
    wrong = client.get(url, headers={"Authorization": "Bearer nope"})
    assert right.json()["components"]["database"]["status"] == "up"
    assert wrong.json() == {"status": "ok"}


class _CountingListener:
    """A real TCP port that accepts and closes every connection, counting them."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.mark.django_db
def test_readiness_reuses_a_recent_report_instead_of_reconnecting(client, registry_settings):
    """Within HEALTH['CACHE_SECONDS'] a second readiness call opens no new connection."""
    listener = _CountingListener()
    try:
        for seconds, expected_extra in ((60.0, 0), (0.0, 1)):
            conf: dict[str, Any] = dict(settings.INTERLINK)
            conf["EVENT_BUS"] = {
                **conf["EVENT_BUS"],
                "BACKEND": "redis",
                "REDIS_URL": f"redis://127.0.0.1:{listener.port}/0",
            }
            conf["HEALTH"] = {"CACHE_SECONDS": seconds}
            registry_settings(conf)
            first = client.get(reverse("interlink:readiness"))
            after_first = listener.accepted
            second = client.get(reverse("interlink:readiness"))
            assert (first.status_code, second.status_code) == (503, 503)
            assert after_first >= 1
            assert (listener.accepted - after_first > 0) == bool(expected_extra)
    finally:
        listener.close()
