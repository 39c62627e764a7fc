"""PostgreSQL with a synchronous standby, the primary stopped hard mid-run and the standby
promoted: every process finds the new primary by itself, and nothing committed is lost.

Django, the relay, a consumer and three saga workers all reach the database through one libpq
multi-host URL (primary first, `target_session_attrs=read-write`). While outbox rows are being
committed, events relayed and applied and sagas run, the primary gets `pg_ctl stop -m
immediate` and the standby `pg_ctl promote`. Then: every commit PostgreSQL acknowledged is on
the new primary, every event is applied exactly once, every saga ends clean (chaos/checks.py),
and no process was restarted. The times from the stop to each process's first work on the new
primary go to reports/cluster/postgres_promotion.json (never asserted: a shared machine).
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter

import pytest
from django.db import connection
from django.test import override_settings
from tests.shop.support import Shop

from django_interlink.conf import DEFAULTS
from django_interlink.models import OutboxEvent, OutboxStatus
from integration_tests.chaos.run import ChaosRun, tolerant
from integration_tests.django_database import django_on
from integration_tests.event_helpers import applied_counts, configured_bus, order_event
from integration_tests.standby_run import (
    ManagePy,
    OutboxWriter,
    first_after,
    write_figures,
)
from mock_services.waiting import WaitTimeout, wait_until
from shop.models import OrderStatistics

pytestmark = pytest.mark.slow

# The consumer process runs with the project's defaults; the group is declared alike.
SUBPROCESS_BUS = {key: DEFAULTS["EVENT_BUS"][key] for key in ("MAX_DELIVERIES", "RETRY_BACKOFF")}
EVENTS = 1000  # outbox rows the writer commits, one every WRITE_INTERVAL s
WRITE_INTERVAL = 0.02


def unsent() -> int:
    return OutboxEvent.objects.exclude(status=OutboxStatus.SENT).count()


def expected() -> Counter[str]:
    """user id -> order.created rows in the outbox for that user: what the consumer must count
    (one per writer event, one per saga order of that buyer)."""
    rows = OutboxEvent.objects.filter(event_type="order.created").values_list("payload", flat=True)
    return Counter(payload["data"]["user_id"] for payload in rows)


def counted() -> Counter[str]:
    """user id -> applications the consumer counted for that user."""
    rows = OrderStatistics.objects.values_list("user_id", "order_count")
    return Counter({str(user): count for user, count in rows})


@pytest.fixture
def shop(services_settings, reset_stubs):
    with override_settings(INTERLINK=services_settings):
        s = Shop(reset_stubs)
        yield s
        s.close()


def test_standby_promoted_under_the_relay_consumer_and_workers_loses_nothing(
    postgres_standby,
    redis_server,
    django_db_blocker,
    shop,
    stubs,
    stub_token,
    unique_name,
    tmp_path,
):
    """1000 outbox rows committed and 40 sagas run while the primary is stopped hard and the
    standby promoted: 0 acknowledged rows lost, each event applied once, every saga clean,
    the relay, the consumer and the workers alive throughout."""
    pair = postgres_standby
    if not pair.owned:
        pytest.skip("the pair comes from DATABASE_CLUSTER_URL: not ours to stop or promote")
    bus_env = {"EVENT_BUS_BACKEND": "redis", "REDIS_URL": redis_server.url}
    with django_on(pair.url, django_db_blocker):
        with configured_bus("redis", redis_server.url, unique_name, **SUBPROCESS_BUS) as bus:
            bus.declare(["order.created"])
        consumer = ManagePy(
            "consumer",
            tmp_path,
            "consume_events",
            "order.created",
            *("--bus", "redis", "--group", unique_name, "--stream-prefix", unique_name),
            *("--handler-module", "integration_tests.event_helpers"),
            **bus_env,
        ).start()
        relay = ManagePy(
            "relay",
            tmp_path,
            "relay_outbox",
            *("--bus", "redis", "--stream-prefix", unique_name, "--interval", "0.1"),
            **bus_env,
        ).start()
        writer = OutboxWriter([order_event(i) for i in range(EVENTS)], WRITE_INTERVAL)
        run = ChaosRun(
            "standby-promoted", shop, stubs, stub_token, tmp_path, sagas=40, interval=0.3
        )
        try:
            run.start()
            writer.start()
            run.wait_for(
                lambda: (
                    run.ended() >= 10
                    and len(writer.acknowledged) >= 150
                    and tolerant(lambda: applied_counts()[0], 0) > 0
                ),
                "ten sagas ended, 150 rows committed, events applied",
                timeout=120,
            )
            with run.timeline.fault("primary stopped, standby promoted", "postgresql"):
                started = time.monotonic()
                pair.stop_primary_hard()
                # from here the old primary is gone: whatever commits next is on the new one
                stopped_at = time.time()
                stop_seconds = time.monotonic() - started
                pair.promote_standby()
                promoted_seconds = time.monotonic() - started - stop_seconds
            saga_figures = run.finish()
            writer.join_checked(timeout=120)
            connection.close()
            # every row relayed, every event applied (or the counts below show what is not)
            with contextlib.suppress(WaitTimeout):
                wait_until(
                    lambda: tolerant(lambda: unsent() == 0 and counted() == expected(), False),
                    timeout=120,
                    interval=0.5,
                    what="every outbox row sent and applied",
                )
            alive = (relay.alive(), consumer.alive())
        finally:
            run.stop()
            relay_code, relay_output = relay.stop()
            consumer_code, consumer_output = consumer.stop()
        in_outbox = {str(e) for e in OutboxEvent.objects.values_list("event_id", flat=True)}
        lost = sorted(set(writer.acknowledged) - in_outbox)
        applications, due = counted(), expected()
        figures = {
            "synchronous": pair.synchronous,
            "source": pair.source,
            "pg_ctl_stop_immediate_s": round(stop_seconds, 3),
            # the figures below count from the moment the stop returned (the primary gone)
            "pg_ctl_promote_s": round(promoted_seconds, 3),
            "stop_to_first_commit_on_new_primary_s": round(
                (writer.first_commit_after(stopped_at) or stopped_at) - stopped_at, 3
            ),
            **first_after(stopped_at),
            "outbox_rows_acknowledged": len(writer.acknowledged),
            "acknowledged_rows_lost": len(lost),
            "writer_database_errors": writer.database_errors,
            "outbox_rows_unsent": unsent(),
            "events_applied": applications.total(),
            "events_in_outbox_to_apply": due.total(),
            "sagas": len(run.orders),
            "saga_worker_database_errors": saga_figures["worker_database_errors"],
        }
        write_figures("promotion", figures)
    assert alive == (True, True), (relay_output[-2000:], consumer_output[-2000:])
    assert (relay_code, consumer_code) == (0, 0), (relay_output[-2000:], consumer_output[-2000:])
    assert lost == []
    assert len(writer.acknowledged) == EVENTS
    assert figures["outbox_rows_unsent"] == 0
    # each user's count is the events announced for it: none lost, none applied twice
    assert {
        u: (applications[u], due[u]) for u in applications | due if applications[u] != due[u]
    } == {}
