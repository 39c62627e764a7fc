"""The transactional outbox on PostgreSQL and RabbitMQ: what on_commit loses, the outbox keeps;
several relays at once publish every row exactly once."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from typing import Any

import pika
import pytest
from django.db import connection

from django_interlink.events.backends import bus_settings
from django_interlink.events.outbox import outbox_enqueue, outbox_relay, outbox_relay_loop
from django_interlink.events.rabbitmq import RabbitMQBus
from django_interlink.models import OutboxEvent, OutboxStatus
from integration_tests.event_helpers import configured_bus
from integration_tests.helpers import REPO_DIR, django_subprocess_env, manage_py_argv
from mock_services.waiting import wait_until
from shop.event_samples import sample_data
from shop.models import UserProfile


def drain(url: str, queue: str) -> list[bytes]:
    """Every message currently in `queue` (acknowledged, so the queue ends empty)."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    bodies: list[Any] = []
    try:
        channel = conn.channel()
        while True:
            method, _, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return bodies
            bodies.append(body)
    finally:
        conn.close()


def commit_and_die(rabbitmq, exchange: str, mode: str, user_id: str) -> subprocess.CompletedProcess:
    argv = [
        sys.executable,
        "-m",
        "integration_tests.event_helpers",
        "commit-and-die",
        "--mode",
        mode,
        "--exchange",
        exchange,
        "--user-id",
        user_id,
    ]
    env = django_subprocess_env(RABBITMQ_URL=rabbitmq.url, EVENT_BUS_BACKEND="rabbitmq")
    return subprocess.run(argv, env=env, cwd=REPO_DIR, capture_output=True, timeout=60)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("mode", "delivered"), [("on_commit", 0), ("outbox", 1)])
def test_process_dying_right_after_commit_loses_the_on_commit_event_not_the_outbox_one(
    rabbitmq, unique_name, mode, delivered
):
    """Both commit the profile; only the outbox still has its event to publish afterwards."""
    user_id = str(uuid.uuid4())
    with configured_bus("rabbitmq", rabbitmq.url, unique_name) as bus:
        bus.declare(["user.created"])
        result = commit_and_die(rabbitmq, unique_name, mode, user_id)
        assert result.returncode == -9, result.stdout.decode() + result.stderr.decode()
        assert UserProfile.objects.filter(user_id=user_id).count() == 1  # the commit happened
        outbox_relay(bus=bus)  # whatever survived in the outbox goes out now
    bodies = drain(rabbitmq.url, f"{unique_name}.user.created")
    assert len(bodies) == delivered
    assert all(user_id.encode() in body for body in bodies)


class RecordingRabbitMQBus(RabbitMQBus):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent: list[int] = []

    def publish_results(self, envelopes):
        outcomes, unavailable = super().publish_results(envelopes)
        self.sent += [
            e.data["index"] for e, o in zip(envelopes, outcomes, strict=False) if o is None
        ]
        return outcomes, unavailable


@pytest.mark.django_db(transaction=True)
def test_three_relays_at_once_publish_every_row_exactly_once_each_in_order(rabbitmq, unique_name):
    """SKIP LOCKED splits the rows between relays: no row twice, none missed, each relay ordered."""
    total = 600
    with configured_bus("rabbitmq", rabbitmq.url, unique_name) as bus:
        bus.declare(["order.cancelled"])
        for index in range(total):
            outbox_enqueue("order.cancelled", sample_data("order.cancelled", index=index))
    settings = bus_settings(rabbitmq_url=rabbitmq.url, rabbitmq_exchange=unique_name)
    relays = [RecordingRabbitMQBus.from_config(settings) for _ in range(3)]
    errors: list[BaseException] = []

    def relay(bus: RecordingRabbitMQBus) -> None:
        try:
            outbox_relay(bus=bus, batch_size=10)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            bus.close()
            connection.close()

    threads = [threading.Thread(target=relay, args=(bus,)) for bus in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    sent = [index for bus in relays for index in bus.sent]
    assert sorted(sent) == list(range(total))
    assert sum(1 for bus in relays if bus.sent) >= 2  # the work really was shared
    for bus in relays:
        assert bus.sent == sorted(bus.sent)
    assert len(drain(rabbitmq.url, f"{unique_name}.order.cancelled")) == total
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}


@pytest.mark.django_db(transaction=True)
def test_relay_outbox_command_publishes_pending_rows_and_marks_them_sent(rabbitmq, unique_name):
    """`manage.py relay_outbox --once` on the real database and broker."""
    with configured_bus("rabbitmq", rabbitmq.url, unique_name) as bus:
        bus.declare(["payment.processed"])
    written = [
        outbox_enqueue("payment.processed", sample_data("payment.processed")) for _ in range(3)
    ]
    result = subprocess.run(
        manage_py_argv("relay_outbox", "--once", "--bus", "rabbitmq", "--exchange", unique_name),
        env=django_subprocess_env(RABBITMQ_URL=rabbitmq.url),
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert b"sent 3" in result.stdout
    bodies = drain(rabbitmq.url, f"{unique_name}.payment.processed")
    assert [b for b in bodies if any(e.event_id.encode() in b for e in written)] == bodies
    assert len(bodies) == 3
    assert OutboxEvent.objects.filter(status=OutboxStatus.SENT).count() == 3


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_relay_loop_outlives_a_database_restart_and_loses_nothing(postgres, rabbitmq, unique_name):
    """PostgreSQL stopped under a running relay loop: it logs, waits, and relays again after."""
    if postgres.controller is None:
        pytest.skip("PostgreSQL comes from DATABASE_URL: we don't own it, so we can't stop it")
    stop = threading.Event()
    outcome: list[Any] = []

    def run_relay(bus: RabbitMQBus) -> None:
        try:
            outcome.append(outbox_relay_loop(bus=bus, stop=stop, interval=0.1))
        finally:
            connection.close()

    def sent(envelope: Any) -> bool:
        return OutboxEvent.objects.filter(
            event_id=envelope.event_id, status=OutboxStatus.SENT
        ).exists()

    with configured_bus("rabbitmq", rabbitmq.url, unique_name) as bus:
        bus.declare(["user.created"])
        relay = threading.Thread(target=run_relay, args=(bus,))
        relay.start()
        try:
            before = outbox_enqueue("user.created", sample_data("user.created"))
            wait_until(lambda: sent(before), timeout=30, what="the first event to be relayed")
            postgres.controller.stop()
            try:
                # The relay meets the dead database at least once while it is down.
                stop.wait(1.0)
            finally:
                postgres.controller.start()
            connection.close()  # this thread's connection died with the server
            after = outbox_enqueue("user.created", sample_data("user.created"))
            wait_until(lambda: sent(after), timeout=30, what="the relay to recover and relay")
            assert relay.is_alive()
        finally:
            stop.set()
            relay.join(30)
    bodies = drain(rabbitmq.url, f"{unique_name}.user.created")
    assert [body.count(e.event_id.encode()) for body in bodies for e in (before, after)] == [
        1,
        0,
        0,
        1,
    ]
    assert outcome[0].sent == 2
