"""Metrics on real servers: each group's lag and dead letters read from a live RabbitMQ and Redis
by /metrics, and the relay's and the consumer's own counters scraped from their processes
(`--metrics-port`). PostgreSQL holds the outbox and the sagas /metrics counts."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from django.conf import settings
from django.test import Client, override_settings
from tests.metrics.scrape import Samples, parse, value

from django_interlink.conf import _merge
from django_interlink.events.handlers import HandlerRegistry
from django_interlink.events.outbox import outbox_enqueue
from django_interlink.exceptions import PermanentHandlerError
from integration_tests.event_helpers import (
    applied_counts,
    configured_bus,
    order_event,
    stop_process,
)
from integration_tests.helpers import django_subprocess_env, manage_py_argv
from mock_services.waiting import wait_until

TOKEN = "integration-metrics-token"
LAG = "interlink_consumer_lag_messages"
DEAD = "interlink_dead_letters"


def scrape_web(groups: dict[str, list[str]]) -> Samples:
    """/metrics of this (the web) process, with the token, reading `groups` from the broker."""
    conf = _merge(settings.INTERLINK, {"HEALTH": {"TOKEN": TOKEN}, "METRICS": {"GROUPS": groups}})
    with override_settings(INTERLINK=conf):
        response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return parse(response.content.decode())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", ["rabbitmq", "redis"])
def test_lag_and_dead_letters_per_group_come_from_the_live_broker(backend, request, unique_name):
    """Two groups get the same three events; the first consumes them, one refused for good:
    its lag is 0 and it keeps 1 dead letter, while the second still has all 3 waiting."""
    server = request.getfixturevalue("rabbitmq" if backend == "rabbitmq" else "redis_server")
    first, second = unique_name, f"{unique_name}-b"
    groups = {first: ["order.created"], second: ["order.created"]}
    registry = HandlerRegistry()

    def refuse_one(envelope: Any) -> None:
        if envelope.data.get("handler_fails"):
            raise PermanentHandlerError("refused")

    registry.add("order.created", refuse_one, name="it.metrics.refuse_one")
    with configured_bus(backend, server.url, unique_name) as bus:
        for group in groups:
            bus.declare(["order.created"], group=group)
        before = scrape_web(groups)
        assert (value(before, LAG, group=first), value(before, DEAD, group=first)) == (0, 0)
        bus.publish_many([order_event(1), order_event(2, handler_fails=True), order_event(3)])
        waiting = scrape_web(groups)
        assert value(waiting, LAG, group=first) == 3
        assert value(waiting, LAG, group=second) == 3
        assert bus.consume(registry=registry, group=first, max_messages=3, idle_timeout=10) == 3
        after = scrape_web(groups)
    assert (value(after, LAG, group=first), value(after, DEAD, group=first)) == (0, 1)
    assert (value(after, LAG, group=second), value(after, DEAD, group=second)) == (3, 0)


def _worker(name: str, *args: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """A manage.py command with `--metrics-port 0`; the process and its metrics URL (the line
    it writes once the endpoint listens)."""
    process = subprocess.Popen(
        manage_py_argv(name, *args, "--metrics-port", "0"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.decode(errors="replace").strip()
        if line.startswith("metrics at "):
            return process, line.removeprefix("metrics at ")
    raise AssertionError(f"{name} exited ({process.wait()}) before serving its metrics")


@contextmanager
def workers(*specs: tuple[str, tuple[str, ...]], env: dict[str, str]) -> Iterator[list[str]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        urls = []
        for name, args in specs:
            process, url = _worker(name, *args, env=env)
            started.append(process)
            urls.append(url)
        yield urls
    finally:
        for process in started:
            stop_process(process)


def scrape_worker(url: str, token: str | None = TOKEN) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, headers=headers, timeout=5)


@pytest.mark.django_db(transaction=True)
def test_relay_and_consumer_processes_serve_their_own_counters(rabbitmq, unique_name):
    """Three outbox rows relayed by `relay_outbox` and handled by `consume_events`, each
    serving its counters: the relay's says 3 sent of order.created, the consumer's 3 acks in
    its group; neither answers without the token."""
    for n in range(3):
        outbox_enqueue("order.created", order_event(n).data)
    env = django_subprocess_env(
        EVENT_BUS_BACKEND="rabbitmq",
        RABBITMQ_URL=rabbitmq.url,
        HEALTH_TOKEN=TOKEN,
        LOG_LEVEL="WARNING",
    )
    names = ("--bus", "rabbitmq", "--exchange", unique_name)
    consumer_args = (
        *names,
        "--group",
        unique_name,
        "--handler-module",
        "integration_tests.event_helpers",
    )
    # The queues first, as the consumer's own settings declare them: the relay's events are
    # routed from its first batch
    subprocess.run(
        manage_py_argv("consume_events", *consumer_args, "--declare-only"), env=env, check=True
    )
    with workers(
        ("relay_outbox", (*names, "--interval", "0.1")),
        ("consume_events", consumer_args),
        env=env,
    ) as (relay_url, consumer_url):
        wait_until(lambda: applied_counts()[1] == 3, timeout=60, what="3 events applied")
        relay = parse(scrape_worker(relay_url).text)
        consumer = parse(scrape_worker(consumer_url).text)
        refused = scrape_worker(relay_url, token=None)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert scrape_worker(consumer_url, token="wrong").status_code == 401
    sent = {"event_type": "order.created", "outcome": "sent"}
    assert value(relay, "interlink_relay_events_total", **sent) == 3
    acks = {"group": unique_name, "outcome": "ack"}
    assert value(consumer, "interlink_consumer_messages_total", **acks) == 3
    # A worker serves its own counters, not the database's state (the web process does)
    assert value(consumer, "interlink_outbox_events", status="pending") is None
