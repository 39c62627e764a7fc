"""/metrics: who may read it, what format it answers in, and the state it reads at scrape time
(SQLite, the memory bus; the broker's view on real servers: integration_tests/test_metrics.py)."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone

from django_interlink.conf import _merge
from django_interlink.events.outbox import outbox_enqueue, outbox_relay
from django_interlink.metrics import state
from django_interlink.models import OutboxEvent
from shop.event_samples import sample_data

from .scrape import families, parse, value

pytestmark = pytest.mark.django_db


def test_without_credentials_metrics_is_401_with_a_bearer_challenge(client, metrics_token):
    """No Authorization and no session: 401 (authenticating may help), nothing disclosed."""
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"interlink_" not in response.content


def test_a_wrong_token_is_401(client, metrics_token):
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert response.status_code == 401


def test_no_token_configured_refuses_every_bearer(client):
    """HEALTH TOKEN "" (the default): no bearer opens /metrics, not even "Bearer "."""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_a_signed_in_account_that_is_not_staff_is_403(client, metrics_token):
    """Known but not allowed: 403, as /health/ready/ hides its details from such accounts."""
    user = get_user_model().objects.create_user("customer", password="pw-12345678")
    client.force_login(user)
    assert client.get("/metrics").status_code == 403


def test_staff_read_metrics_without_a_token(admin_client):
    response = admin_client.get("/metrics")
    assert response.status_code == 200
    assert "interlink_outbox_events" in families(response.content.decode())


def test_the_token_reads_the_text_exposition(client, metrics_token):
    """200 in Prometheus's text format, every family of the state and of this process."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {metrics_token}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert response["Cache-Control"].startswith("max-age=0")
    names = families(response.content.decode())
    assert {
        "interlink_outbox_events",
        "interlink_outbox_oldest_pending_age_seconds",
        "interlink_sagas",
        "interlink_sagas_waiting_undo",
        "process_cpu_seconds",
    } <= names


def test_openmetrics_is_answered_to_a_prometheus_that_asks_for_it(client, metrics_token):
    response = client.get(
        "/metrics",
        HTTP_AUTHORIZATION=f"Bearer {metrics_token}",
        HTTP_ACCEPT="application/openmetrics-text; version=1.0.0",
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.rstrip().endswith(b"# EOF")


def test_the_outbox_backlog_and_its_oldest_age_show_pending_rows(scrape):
    """Three rows enqueued, the oldest a minute ago: pending 3, oldest age >= 60 s; relayed,
    the backlog is 0 again and the relay counted three sent of that type."""
    assert value(scrape(), "interlink_outbox_events", status="pending") == 0
    for _ in range(3):
        outbox_enqueue("user.created", sample_data("user.created"))
    first = OutboxEvent.objects.order_by("id").first()
    assert first is not None
    OutboxEvent.objects.filter(id=first.id).update(created_at=timezone.now() - timedelta(minutes=1))
    samples = scrape()
    assert value(samples, "interlink_outbox_events", status="pending") == 3
    assert value(samples, "interlink_outbox_events", status="failed") == 0
    age = value(samples, "interlink_outbox_oldest_pending_age_seconds")
    assert age is not None and age >= 60
    sent = "interlink_relay_events_total"
    before = value(samples, sent, event_type="user.created", outcome="sent") or 0

    conf = _merge(settings.INTERLINK, {"EVENT_BUS": {"ALLOW_MEMORY_BUS": True}})
    with override_settings(INTERLINK=conf):
        assert outbox_relay().sent == 3
    samples = scrape()
    assert value(samples, "interlink_outbox_events", status="pending") == 0
    assert value(samples, "interlink_outbox_oldest_pending_age_seconds") == 0
    assert value(samples, sent, event_type="user.created", outcome="sent") == before + 3


def test_an_unreachable_broker_is_a_scrape_error_not_a_failed_scrape(scrape, metrics_token):
    """RabbitMQ refusing connections: 200 with the database's state, no lag or dead-letter
    family, and one more broker scrape error."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: connections are refused
    errors = "interlink_metrics_scrape_errors_total"
    before = value(scrape(), errors, source="broker") or 0
    conf = _merge(
        settings.INTERLINK,
        {
            "EVENT_BUS": {"BACKEND": "rabbitmq", "RABBITMQ_URL": f"amqp://127.0.0.1:{port}/"},
            "METRICS": {"GROUPS": {"billing": ["order.created"]}},
        },
    )
    with override_settings(INTERLINK=conf):
        samples = scrape()
    assert value(samples, errors, source="broker") == before + 1
    assert value(samples, "interlink_outbox_events", status="pending") == 0
    assert value(samples, "interlink_consumer_lag_messages", group="billing") is None


def test_the_exposition_parses_back_to_the_same_samples(client, metrics_token):
    """What we serve is what prometheus_client's parser reads (names, labels, values)."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {metrics_token}")
    samples = parse(response.content.decode())
    assert value(samples, "interlink_outbox_events", status="pending") == 0


def test_a_broker_read_that_hangs_is_cut_short_and_not_queued_behind(scrape, monkeypatch):
    """A broker read that never returns: the scrape answers after SCRAPE_TIMEOUT with a broker
    scrape error; the next scrape does not start a second read behind the stuck one."""
    release = threading.Event()
    reads: list[str] = []

    def stuck(bus, groups, *, timeout):
        reads.append(str(bus["BACKEND"]))
        release.wait(30)
        return {}

    errors = "interlink_metrics_scrape_errors_total"
    before = value(scrape(), errors, source="broker") or 0
    monkeypatch.setattr(state, "read_backlog", stuck)
    conf = _merge(
        settings.INTERLINK,
        {
            "EVENT_BUS": {"BACKEND": "rabbitmq", "RABBITMQ_URL": "amqp://127.0.0.1:1/"},
            "METRICS": {"GROUPS": {"billing": ["order.created"]}, "SCRAPE_TIMEOUT": 0.2},
        },
    )
    try:
        with override_settings(INTERLINK=conf):
            first = scrape()
            second = scrape()
    finally:
        release.set()
    state.STATE._pool.submit(lambda: None).result(timeout=30)  # whatever was queued has run
    assert value(first, errors, source="broker") == before + 1
    assert value(second, errors, source="broker") == before + 2
    assert reads == ["rabbitmq"]
    assert value(second, "interlink_outbox_events", status="pending") == 0
