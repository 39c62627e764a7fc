"""The server fixtures themselves: each server answers a round trip, restarts keep durable data."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pika
import pytest
import redis

from integration_tests.helpers import django_subprocess_env, manage_py_argv
from servers.redis import can_ping
from servers.waiting import wait_until


def _channel(url: str) -> tuple[pika.BlockingConnection, Any]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    return connection, connection.channel()


def test_rabbitmq_round_trip_delivers_the_published_body(rabbitmq, unique_name):
    """A message published to a fresh queue is consumed back with the same body."""
    connection, channel = _channel(rabbitmq.url)
    try:
        channel.queue_declare(unique_name, auto_delete=True)
        channel.confirm_delivery()
        channel.basic_publish("", unique_name, b"hello")
        received = []
        for method, _props, body in channel.consume(unique_name, inactivity_timeout=10):
            if method is None:
                break
            channel.basic_ack(method.delivery_tag)
            received.append(body)
            break
        channel.cancel()
    finally:
        connection.close()
    assert received == [b"hello"]


@pytest.mark.slow
def test_rabbitmq_restart_keeps_persistent_messages_in_durable_queue(rabbitmq, unique_name):
    """Broker stopped (connections refused) and started: the durable queue's message is there."""
    if rabbitmq.controller is None:
        pytest.skip("RabbitMQ comes from RABBITMQ_URL: we don't own it, so we can't restart it")
    connection, channel = _channel(rabbitmq.url)
    channel.queue_declare(unique_name, durable=True)
    channel.confirm_delivery()  # the broker has the message on disk once the confirm arrives
    persistent = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)
    channel.basic_publish("", unique_name, b"survivor", persistent)
    connection.close()

    rabbitmq.controller.stop()
    try:
        with pytest.raises(pika.exceptions.AMQPConnectionError):
            pika.BlockingConnection(pika.URLParameters(rabbitmq.url + "?connection_attempts=1"))
    finally:
        rabbitmq.controller.start()

    connection, channel = _channel(rabbitmq.url)
    try:
        method, _props, body = channel.basic_get(unique_name, auto_ack=True)
        channel.queue_delete(unique_name)
    finally:
        connection.close()
    assert method is not None
    assert body == b"survivor"


def test_redis_round_trip_returns_the_stored_value(redis_server, unique_name):
    """SET then GET on a per-test key returns the value."""
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.set(f"{unique_name}:greeting", b"hello", ex=60)
        assert client.get(f"{unique_name}:greeting") == b"hello"
    finally:
        client.delete(f"{unique_name}:greeting")
        client.close()


def test_redis_stopped_refuses_connections_and_start_restores_it(redis_server):
    """Stopping Redis through its controller makes commands fail; starting it again serves them."""
    if redis_server.controller is None:
        pytest.skip("Redis comes from REDIS_URL: we don't own it, so we can't stop it")
    client = redis.Redis.from_url(redis_server.url, socket_connect_timeout=2)
    redis_server.controller.stop()
    try:
        with pytest.raises(redis.ConnectionError):
            client.ping()
    finally:
        redis_server.controller.start()
    assert client.ping() is True
    client.close()


def test_a_server_restarted_from_a_short_lived_thread_outlives_that_thread(redis_server):
    """A restart from a helper thread that then ends: the server keeps answering.

    `setpriv --pdeathsig` signals the server when the thread that forked it exits, so the
    server must not be forked by the caller's thread.
    """
    if redis_server.controller is None:
        pytest.skip("Redis comes from REDIS_URL: we don't own it, so we can't restart it")
    controller = redis_server.controller
    helper_ids: list[int] = []

    def restart() -> None:
        helper_ids.append(threading.get_native_id())
        controller.restart()

    helper = threading.Thread(target=restart, name="restarts-redis")
    helper.start()
    helper.join(60)
    try:
        # The kernel sends the parent-death signal before it releases the exited thread.
        wait_until(
            lambda: not Path(f"/proc/self/task/{helper_ids[0]}").exists(),
            timeout=30,
            what="the helper thread to be gone",
        )
        answers = []
        for _ in range(20):  # redis-server acts on a SIGTERM within one 100 ms cron tick
            answers.append(can_ping(redis_server.url))
            time.sleep(0.1)
    finally:
        if not can_ping(redis_server.url):  # the next tests need it (it died: start it anew)
            controller.stop()
            controller.start()
    assert answers == [True] * 20


@pytest.mark.django_db
def test_django_database_is_the_postgres_server(postgres):
    """Django's connection in integration tests is the PostgreSQL server of the fixture."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('port')::int, version()")
        port, version = cursor.fetchone()
    assert connection.vendor == "postgresql"
    assert version.startswith("PostgreSQL")
    if postgres.source != "docker":  # a container listens on 5432 behind the mapped host port
        assert port == postgres.port


@pytest.mark.django_db(transaction=True)
def test_django_subprocess_sees_committed_rows(unique_name):
    """A manage.py sub-process given django_subprocess_env() reads rows this test committed."""
    from django.contrib.auth.models import Group

    Group.objects.create(name=unique_name)
    result = subprocess.run(
        manage_py_argv(
            "shell",
            "--no-imports",
            "-c",
            "from django.contrib.auth.models import Group; "
            f"print(Group.objects.filter(name='{unique_name}').count())",
        ),
        env=django_subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


_seen_names: list[str] = []


@pytest.mark.parametrize("run", [1, 2, 3])
def test_unique_name_is_fresh_for_every_test(unique_name, run):
    """Every test gets its own queue/key-prefix name, shaped t + 8 hex digits."""
    assert re.fullmatch(r"t[0-9a-f]{8}", unique_name)
    assert unique_name not in _seen_names
    _seen_names.append(unique_name)


def test_consul_agent_reports_a_leader(consul):
    """The Consul agent of the fixture has elected a leader (it is ready to register services)."""
    import requests

    response = requests.get(f"{consul.url}/v1/status/leader", timeout=5)
    assert response.status_code == 200
    assert response.json() != ""


def test_an_address_in_the_environment_wins_over_starting_a_server(monkeypatch, redis_server):
    """With REDIS_URL set, the provider uses that server as it is: source env, no controller."""
    from servers import provide

    monkeypatch.setenv("REDIS_URL", redis_server.url)
    provisioned = provide("redis")
    provisioned.close()
    assert provisioned.endpoint.source == "env"
    assert provisioned.endpoint.port == redis_server.port
    assert provisioned.endpoint.controller is None


def test_an_unreachable_address_in_the_environment_is_an_error_not_a_skip(monkeypatch):
    """A set but dead REDIS_URL fails loudly instead of silently starting another server."""
    import socket

    from servers import ServerStartError, provide

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")
    with pytest.raises(ServerStartError, match="REDIS_URL is set but no Redis answers"):
        provide("redis")
