"""Helpers of the event integration tests: bus settings per test, an effect that shows double
application, and consumer sub-processes.

Also a handler module for `consume_events --handler-module integration_tests.event_helpers`, and
a script (`python -m integration_tests.event_helpers commit-and-die ...`) for the outbox test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.db.models import F, Sum

from django_interlink.events.envelope import Envelope
from django_interlink.events.handlers import HandlerRegistry
from django_interlink.exceptions import PermanentHandlerError
from integration_tests.helpers import django_subprocess_env, manage_py_argv
from mock_services.waiting import WaitTimeout, wait_until

# --- what both buses' tests use ----------------------------------------------------------------

POISON_KINDS = ["invalid-json", "schema-violation", "unknown-type", "1mb-payload"]


def recording_registry(*types: str) -> tuple[HandlerRegistry, list[Envelope]]:
    """A registry whose handlers append each envelope they get to the returned list."""
    received: list[Envelope] = []
    registry = HandlerRegistry()
    for event_type in types:
        registry.add(event_type, received.append, name=f"it.record.{event_type}")
    return registry, received


def poison_body(kind: str) -> bytes:
    """An event body a consumer must dead-letter (one of POISON_KINDS)."""
    from shop.event_samples import sample_envelope

    valid = sample_envelope("user.created").to_dict()
    if kind == "invalid-json":
        return b'{"event_id": "unterminated'
    if kind == "schema-violation":
        valid["data"]["email"] = 42
    elif kind == "unknown-type":
        valid["event_type"] = "user.exploded"
    elif kind == "1mb-payload":
        valid["data"]["bio"] = "x" * (1024 * 1024)
    else:
        raise ValueError(f"unknown poison kind {kind!r}")
    return json.dumps(valid).encode()


# --- handlers run by consumer sub-processes -----------------------------------------------------

registry = HandlerRegistry()


@registry.handler("order.created", name="it.count_order")
def count_order(envelope: Envelope) -> None:
    """Count the order on its (unique per event) user: order_count > 1 means applied twice.
    An event with `handler_fails` in its data is refused (dead-lettered) after counting."""
    from shop.models import OrderStatistics

    data = envelope.data
    stats, _ = OrderStatistics.objects.get_or_create(user_id=data["user_id"], currency="EUR")
    OrderStatistics.objects.filter(pk=stats.pk).update(order_count=F("order_count") + 1)
    if data.get("handler_fails"):
        raise PermanentHandlerError("this event asked to fail")
    delay = float(data.get("handler_sleep", 0))
    if delay:
        time.sleep(delay)


def order_event(index: int = 0, **extra: Any) -> Envelope:
    """An order.created event with a fresh user id (one OrderStatistics row per event)."""
    product = "00000000-0000-4000-8000-000000000001"
    return Envelope.new(
        "order.created",
        {
            "order_id": str(uuid.uuid4()),
            "user_id": str(uuid.uuid4()),
            "items": [{"product_id": product, "quantity": 1, "unit_price": 100}],
            "currency": "EUR",
            "total_amount": 100,
            "index": index,
            **extra,
        },
        correlation_id=f"it-{index}",
    )


def applied_counts() -> tuple[int, int, int]:
    """(events applied at least once, total applications, events applied more than once)."""
    from shop.models import OrderStatistics

    rows = OrderStatistics.objects.filter(currency="EUR")
    total = rows.aggregate(total=Sum("order_count"))["total"] or 0
    return rows.count(), total, rows.filter(order_count__gt=1).count()


def wait_for_applications(total: int, *, timeout: float) -> None:
    """Wait until `total` applications are counted, or the timeout passes: then the caller's
    assertions on applied_counts() fail with the counts (and its log), not a bare timeout."""
    with contextlib.suppress(WaitTimeout):
        wait_until(
            lambda: applied_counts()[1] >= total,
            timeout=timeout,
            interval=0.5,
            what="every event applied",
        )


@contextmanager
def sent_statements() -> Iterator[Counter[str]]:
    """The SQL statements this thread's connection sends while inside, by their first word
    (SAVEPOINT, INSERT, ...); what the driver does itself (COMMIT) is not among them."""
    from django.db import connection

    sent: Counter[str] = Counter()

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent[sql.split(None, 1)[0].upper()] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield sent


# --- settings ------------------------------------------------------------------------------------


def event_bus_settings(backend: str, url: str, name: str, **extra: Any) -> dict[str, Any]:
    """EVENT_BUS for one test: its own exchange/stream prefix and consumer group."""
    conf: dict[str, Any] = {
        "BACKEND": backend,
        "RABBITMQ_EXCHANGE": name,
        "REDIS_STREAM_PREFIX": name,
        "CONSUMER_GROUP": name,
        "RETRY_BACKOFF": 0.05,
        "MAX_DELIVERIES": 3,
        "REDIS_CLAIM_IDLE_MS": 1000,
        "REDIS_BLOCK_MS": 200,
        "PUBLISH_TIMEOUT": 60.0,
        "RECONNECT_BACKOFF_MAX": 1.0,
    }
    conf["RABBITMQ_URL" if backend == "rabbitmq" else "REDIS_URL"] = url
    if backend != "rabbitmq":  # one Redis, whatever REDIS_SENTINELS the environment names
        conf["REDIS_SENTINELS"] = []
    conf.update(extra)
    return conf


@contextmanager
def configured_bus(backend: str, url: str, name: str, **extra: Any) -> Iterator[Any]:
    """override_settings for the bus of one test; yields a bus built from them (closed after)."""
    from django.conf import settings
    from django.test import override_settings

    from django_interlink.conf import _merge
    from django_interlink.events.backends import build_bus, reset_buses

    conf = _merge(
        getattr(settings, "INTERLINK", {}),
        {"EVENT_BUS": event_bus_settings(backend, url, name, **extra)},
    )
    with override_settings(INTERLINK=conf):
        bus = build_bus()
        try:
            yield bus
        finally:
            bus.close()
            reset_buses()


# --- consumer sub-processes ----------------------------------------------------------------------


def start_consumer(
    backend: str,
    url: str,
    name: str,
    *types: str,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    stdout: Any = subprocess.PIPE,
) -> subprocess.Popen[bytes]:
    """`manage.py consume_events` in its own process, on this test's database and bus names;
    `env` adds to its environment (a crash point such as EVENTS_CRASH_AT); its output goes to
    a pipe, or to `stdout` (a file: nobody reads a long run's pipe, and a full one blocks it)."""
    environment = django_subprocess_env(
        EVENT_BUS_BACKEND=backend,
        **({"RABBITMQ_URL": url} if backend == "rabbitmq" else {"REDIS_URL": url}),
        LOG_LEVEL="WARNING",
        **(env or {}),
    )
    argv = manage_py_argv(
        "consume_events",
        *types,
        "--bus",
        backend,
        "--group",
        name,
        "--exchange",
        name,
        "--stream-prefix",
        name,
        "--handler-module",
        "integration_tests.event_helpers",
        *extra_args,
    )
    return subprocess.Popen(argv, env=environment, stdout=stdout, stderr=subprocess.STDOUT)


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> str:
    """Signal the process (if alive), wait for it, and return its output."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return (output or b"").decode(errors="replace")


# --- the outbox test's process that dies right after its commit ----------------------------------


def commit_and_die(mode: str, exchange: str, user_id: str) -> None:
    """Commit a state change whose event goes out via `mode`, then die before anything else."""
    import django

    django.setup()
    from django.db import transaction

    from django_interlink.events.backends import build_bus
    from django_interlink.events.outbox import outbox_enqueue
    from shop.event_samples import sample_data
    from shop.models import UserProfile

    data = sample_data("user.created", user_id=user_id)
    bus = build_bus("rabbitmq", RABBITMQ_EXCHANGE=exchange)

    def die() -> None:  # the process is killed right after the commit (OOM killer, deploy, ...)
        os.kill(os.getpid(), signal.SIGKILL)

    with transaction.atomic():
        UserProfile.objects.create(user_id=user_id, email=data["email"], name=data["name"])
        if mode == "outbox":
            outbox_enqueue("user.created", data)
        transaction.on_commit(die)
        if mode == "on_commit":
            transaction.on_commit(lambda: bus.publish(Envelope.new("user.created", data)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["commit-and-die"])
    parser.add_argument("--mode", choices=["on_commit", "outbox"], required=True)
    parser.add_argument("--exchange", required=True)
    parser.add_argument("--user-id", required=True)
    args = parser.parse_args()
    commit_and_die(args.mode, args.exchange, args.user_id)


# The consume-window tests of both brokers (test_events_window.py, test_events_redis_window.py).


def called(calls: list[tuple[str, int]], envelope: Envelope) -> int:
    return sum(1 for event_id, _ in calls if event_id == envelope.event_id)


def assert_window_decided_again(
    calls: list[tuple[str, int]],
    events: list[Envelope],
    dead: Envelope,
    flaky: Envelope,
    sent: Counter[str],
) -> None:
    """What the failing-window tests of both brokers see: tried at once in T1 up to the dead
    message, rolled back; decided again in T2, a savepoint each except the dead one; the flaky
    one's retry in T3."""
    first_try, *_ = calls
    again = [(event_id, txid) for event_id, txid in calls[2:] if event_id != flaky.event_id]
    assert calls[:2] == [(events[0].event_id, first_try[1]), (dead.event_id, first_try[1])]
    assert [event_id for event_id, _ in again] == [events[i].event_id for i in (0, 2, 4)]
    second_try = again[0][1]
    assert {txid for _, txid in again} == {second_try} and second_try != first_try[1]
    flaky_txids = [txid for event_id, txid in calls if event_id == flaky.event_id]
    assert len(flaky_txids) == 2 and flaky_txids[0] == second_try != flaky_txids[1]
    assert called(calls, dead) == 1  # its verdict was kept, not asked for again
    assert sent["SAVEPOINT"] == 4  # the second try's 0, 2, 3, 4; none for the retry alone


def transaction_id() -> int:
    """PostgreSQL's id of the transaction this handler runs in (its top level, savepoint or not)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT txid_current()")
        return int(cursor.fetchone()[0])


def stop_process_when_dead(process) -> str:
    """Wait (up to a minute) for a process that is to kill itself; its output."""
    try:
        wait_until(lambda: process.poll() is not None, timeout=60, what="the crash point")
    finally:
        output = stop_process(process, signal.SIGKILL)
    return output
