"""A worker's own metrics endpoint (`--metrics-port`) on a real socket, and the settings checks."""

from __future__ import annotations

import pytest
import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from django_interlink.checks import check_metrics_settings
from django_interlink.conf import _merge
from django_interlink.metrics import instruments
from django_interlink.metrics.exposition import MetricsServer

from .scrape import parse, value


def test_the_worker_endpoint_serves_its_counters_to_the_token_only():
    server = MetricsServer(port=0, address="127.0.0.1", token="worker-token")
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        instruments.consumer_outcomes("worker-group", ["ack"])
        anonymous = requests.get(url, timeout=5)
        wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
        ok = requests.get(url, headers={"Authorization": "Bearer worker-token"}, timeout=5)
    finally:
        server.close()
    assert (anonymous.status_code, wrong.status_code, ok.status_code) == (401, 401, 200)
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    samples = parse(ok.text)
    counted = value(
        samples, "interlink_consumer_messages_total", group="worker-group", outcome="ack"
    )
    assert counted is not None and counted >= 1
    # a worker serves its own counters, not the database's state
    assert value(samples, "interlink_outbox_events", status="pending") is None


def test_a_worker_endpoint_without_a_token_is_refused_at_start():
    """relay_outbox --metrics-port without HEALTH TOKEN: a usage error naming the option, before
    anything is relayed."""
    conf = _merge(
        settings.INTERLINK,
        {"EVENT_BUS": {"ALLOW_MEMORY_BUS": True}, "HEALTH": {"TOKEN": ""}},
    )
    with override_settings(INTERLINK=conf), pytest.raises(CommandError) as refused:
        call_command("relay_outbox", "--once", "--metrics-port", "0")
    assert "--metrics-port" in str(refused.value)
    assert "TOKEN" in str(refused.value)


@pytest.mark.parametrize(
    ("metrics", "ids"),
    [
        ({}, []),
        ({"GROUPS": {"billing": ["order.created"]}, "SCRAPE_TIMEOUT": 1}, []),
        ({"GROUPS": ["billing"]}, ["interlink.E082"]),
        ({"GROUPS": {"billing": "order.created"}}, ["interlink.E082"]),
        ({"SCRAPE_TIMEOUT": 0}, ["interlink.E083"]),
        ({"SCRAPE_TIMEOUT": "2"}, ["interlink.E083"]),
    ],
)
def test_metrics_settings_are_checked(metrics, ids):
    conf = _merge(settings.INTERLINK, {"METRICS": metrics})
    with override_settings(INTERLINK=conf):
        assert [error.id for error in check_metrics_settings()] == ids
