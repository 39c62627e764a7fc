"""/health/ready/ against real RabbitMQ, Redis and PostgreSQL: up is 200, a stopped server 503.

Each check is fresh here (CACHE_SECONDS 0): the tests stop and start servers between calls.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

HEALTH_TOKEN = "integration-health-token"


def _settings_with_bus(**bus: str) -> override_settings:
    conf: dict[str, Any] = dict(settings.INTERLINK)
    conf["EVENT_BUS"] = {**conf.get("EVENT_BUS", {}), **bus}
    conf["REGISTRY"] = {**conf.get("REGISTRY", {}), "BACKEND": "static"}
    conf["HEALTH"] = {"CACHE_SECONDS": 0, "TOKEN": HEALTH_TOKEN}
    return override_settings(INTERLINK=conf)


@pytest.fixture
def rabbitmq_bus(rabbitmq, redis_server):
    """EVENT_BUS on RabbitMQ, with Redis configured too (its REDIS_URL)."""
    with _settings_with_bus(
        BACKEND="rabbitmq", RABBITMQ_URL=rabbitmq.url, REDIS_URL=redis_server.url
    ):
        yield


@pytest.fixture
def redis_bus(redis_server):
    """EVENT_BUS on Redis Streams."""
    with _settings_with_bus(BACKEND="redis", RABBITMQ_URL="", REDIS_URL=redis_server.url):
        yield


def _health(client: Client) -> tuple[int, dict[str, str], dict[str, Any]]:
    response = client.get(
        reverse("interlink:readiness"), headers={"Authorization": f"Bearer {HEALTH_TOKEN}"}
    )
    body = response.json()
    return response.status_code, {k: v["status"] for k, v in body["components"].items()}, body


@pytest.mark.django_db
def test_health_is_200_when_every_real_server_is_up(client, rabbitmq_bus):
    """PostgreSQL, RabbitMQ and Redis all answer: 200, every component up."""
    status, components, body = _health(client)
    assert status == 200
    assert components == {"database": "up", "broker": "up", "redis": "up", "registry": "up"}
    assert body["components"]["database"]["detail"] == "postgresql"
    assert body["components"]["broker"]["detail"].startswith("rabbitmq")
    assert body["components"]["redis"]["detail"].startswith("redis")


@pytest.mark.slow
@pytest.mark.django_db
def test_stopped_rabbitmq_turns_health_503_until_it_is_back(client, rabbitmq, rabbitmq_bus):
    """With the broker stopped /health/ is 503 naming the broker; once restarted it is 200."""
    if rabbitmq.controller is None:
        pytest.skip("RabbitMQ comes from RABBITMQ_URL: we don't own it, so we can't stop it")
    rabbitmq.controller.stop()
    try:
        status_down, components_down, _ = _health(client)
    finally:
        rabbitmq.controller.start()
    status_up, _, _ = _health(client)
    assert status_down == 503
    assert components_down == {"database": "up", "broker": "down", "redis": "up", "registry": "up"}
    assert status_up == 200


@pytest.mark.django_db
def test_stopped_redis_turns_health_503_for_broker_and_redis(client, redis_server, redis_bus):
    """A Redis bus with Redis stopped: broker and redis both down, 503; back to 200 after start."""
    if redis_server.controller is None:
        pytest.skip("Redis comes from REDIS_URL: we don't own it, so we can't stop it")
    redis_server.controller.stop()
    try:
        status_down, components_down, _ = _health(client)
    finally:
        redis_server.controller.start()
    status_up, _, _ = _health(client)
    assert status_down == 503
    assert components_down == {
        "database": "up",
        "broker": "down",
        "redis": "down",
        "registry": "up",
    }
    assert status_up == 200


@pytest.mark.django_db(transaction=True)
def test_stopped_postgres_turns_health_503_and_it_reconnects_after(client, postgres, redis_bus):
    """The database stopped: 503 with database down; restarted: the next check reconnects, 200."""
    if postgres.controller is None:
        pytest.skip("PostgreSQL comes from DATABASE_URL: we don't own it, so we can't stop it")
    status_before, _, _ = _health(client)
    postgres.controller.stop()
    try:
        status_down, components_down, _ = _health(client)
    finally:
        postgres.controller.start()
    status_up, components_up, _ = _health(client)
    assert status_before == 200
    assert status_down == 503
    assert components_down["database"] == "down"
    assert status_up == 200
    assert components_up["database"] == "up"
