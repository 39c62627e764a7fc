"""PostgreSQL stopped for 30 s under a consumer with events flowing, on both brokers.

The consumer is a `manage.py consume_events` process with the project's defaults (5 deliveries,
about 3 s of retry backoff in all): before, every event it met while the database was down was
dead-lettered. Now the database's failure is no verdict: nothing is dead-lettered, every event
is applied exactly once after the database is back, and the consumer never died.
"""

from __future__ import annotations

import signal
import subprocess
import threading

import pytest
from django.db import connection

from django_interlink.conf import DEFAULTS
from integration_tests.event_helpers import (
    applied_counts,
    configured_bus,
    order_event,
    start_consumer,
    wait_for_applications,
)
from mock_services.waiting import wait_until

# The consumer process runs with the project's defaults; queues must be declared alike.
SUBPROCESS_BUS = {key: DEFAULTS["EVENT_BUS"][key] for key in ("MAX_DELIVERIES", "RETRY_BACKOFF")}
OUTAGE_SECONDS = 30
BEFORE, DURING, AFTER = 150, 200, 150  # events published before, during and after the outage


class Drained:
    """A consumer process whose output is read as it comes: one that logs a traceback per
    failed delivery would otherwise fill the pipe and block, which is not what is tested."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.lines: list[bytes] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=10)
        return b"".join(self.lines).decode(errors="replace")


def events_flow_through_a_database_outage(
    backend: str, url: str, postgres, name: str, window: int
) -> None:
    total = BEFORE + DURING + AFTER
    with configured_bus(backend, url, name, **SUBPROCESS_BUS) as bus:
        bus.declare(["order.created"])
        consumer = start_consumer(
            backend, url, name, "order.created", extra_args=("--window", str(window))
        )
        drained = Drained(consumer)
        try:
            events = [order_event(i) for i in range(total)]
            bus.publish_many(events[:BEFORE])
            wait_until(lambda: applied_counts()[0] > 0, timeout=60, what="a first event applied")
            postgres.controller.stop()
            try:
                # Published straight to the broker (it is up) while the database is down: the
                # consumer meets every one of them with its database gone.
                for start in range(BEFORE, BEFORE + DURING, 20):
                    bus.publish_many(events[start : start + 20])
                threading.Event().wait(OUTAGE_SECONDS)
                alive_during = consumer.poll() is None
            finally:
                postgres.controller.start()
            connection.close()  # this thread's connection died with the server
            bus.publish_many(events[BEFORE + DURING :])
            wait_for_applications(total, timeout=180)
            alive_after = consumer.poll() is None
            dead = bus.dead_letter_box().read()
        finally:
            output = drained.stop()
    assert (alive_during, alive_after) == (True, True), output[-3000:]
    assert [letter.reason for letter in dead] == [], output[-3000:]
    assert applied_counts() == (total, total, 0), output[-3000:]
    assert "not counted" in output  # the consumer met the outage and paused


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("window", [1, 10], ids=["per-message", "window-10"])
def test_rabbitmq_consumer_outlives_a_30s_database_outage_dead_letters_nothing(
    rabbitmq, postgres, unique_name, window
):
    """0 dead-lettered, each of 500 events applied once, the consumer alive throughout."""
    if postgres.controller is None:
        pytest.skip("PostgreSQL comes from DATABASE_URL: we don't own it, so we can't stop it")
    events_flow_through_a_database_outage("rabbitmq", rabbitmq.url, postgres, unique_name, window)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("window", [1, 10], ids=["per-message", "window-10"])
def test_redis_consumer_outlives_a_30s_database_outage_dead_letters_nothing(
    redis_server, postgres, unique_name, window
):
    """0 dead-lettered, each of 500 events applied once, the consumer alive throughout."""
    if postgres.controller is None:
        pytest.skip("PostgreSQL comes from DATABASE_URL: we don't own it, so we can't stop it")
    events_flow_through_a_database_outage("redis", redis_server.url, postgres, unique_name, window)
