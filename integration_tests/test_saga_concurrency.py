"""50 sagas at once, run by four `resume_sagas` worker processes competing on PostgreSQL.

Stock is short (some sagas must fail out of stock) and some cards are declined, so completions
and compensations interleave. The sagas are held back until every worker polls, so the four
compete from the first one: more than one must run sagas, no saga may be run by two, and the
ledgers must balance.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection
from django.test import override_settings
from tests.shop.support import Shop, check_global, check_saga, two_items

from django_interlink.models import SagaExecution, SagaStepLog
from django_interlink.models.sagas import ACTIVE_STATUSES
from django_interlink.sagas.services import saga_create
from integration_tests.helpers import django_subprocess_env
from integration_tests.workers import Workers
from shop.order_processing import ORDER_PROCESSING, build_order_context

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SAGAS = 50
WORKERS = 4
GATE = "start-gate"  # the lease owner holding the sagas back until every worker polls


def connections_named(application_name: str) -> int:
    """How many connections to PostgreSQL carry this application_name (PGAPPNAME)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [application_name]
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def shop(postgres, services_settings, reset_stubs):
    with override_settings(INTERLINK=services_settings):
        s = Shop(reset_stubs)
        yield s
        s.close()


def test_fifty_sagas_from_four_workers_balance_the_ledgers(
    shop, stubs, stub_token, unique_name, tmp_path
):
    """Every saga ends, run by one worker only, and more than one worker runs sagas; stock on
    hand is unchanged, reserved equals the live reservations, each completed order has one
    payment, every other payment refunded."""
    scarce = shop.product(60, sku="SCARCE")  # 2 per saga: at most 30 of 45 paying sagas fit
    plenty = shop.product(1000, sku="PLENTY")
    users = [shop.user(email=f"buyer{n}@example.com") for n in range(5)]
    on_hand = {pid: p["on_hand"] for pid, p in shop.ledger().products.items()}
    for n in range(SAGAS):
        context = build_order_context(
            user_id=users[n % len(users)],
            items=two_items(2, 1, widget_id=scarce, gadget_id=plenty),
            payment_method="tok_declined" if n % 10 == 0 else "tok_visa",
        )
        saga_create(
            definition=ORDER_PROCESSING,
            saga_id=f"load-{n:02d}",
            context=context,
            owner=GATE,
            lease_seconds=3600,
        )

    env = django_subprocess_env(
        SERVICES_API_KEY=stub_token,
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        PGAPPNAME=unique_name,  # names the workers' connections in pg_stat_activity
        **{f"{name.upper()}_SERVICE_URL": server.url for name, server in stubs.items()},
    )
    workers = Workers(WORKERS, env, tmp_path, "--poll-interval", "0.05", "--batch", str(SAGAS))
    try:
        workers.start()
        # Each worker keeps its connection open between polls: four connections, four pollers.
        workers.until(
            lambda: connections_named(unique_name) >= WORKERS, "every worker to poll", 120
        )
        SagaExecution.objects.filter(lease_owner=GATE).update(lease_owner="", lease_expires_at=None)
        workers.until(
            lambda: not SagaExecution.objects.filter(status__in=ACTIVE_STATUSES).exists(),
            "every saga to end",
            240,
        )
    finally:
        outputs = workers.stop()  # each finishes the saga in hand, then exits
    assert [o.returncode for o in outputs] == [0] * WORKERS, [o.stderr[-2000:] for o in outputs]

    finished = Counter(
        line.split()[0]
        for o in outputs
        for line in o.stdout.splitlines()
        if line.startswith("load-")
    )
    assert sorted(finished) == [f"load-{n:02d}" for n in range(SAGAS)]
    assert set(finished.values()) == {1}
    for saga_id in finished:
        workers_seen = set(
            SagaStepLog.objects.filter(execution__saga_id=saga_id).values_list("worker", flat=True)
        )
        assert len(workers_seen) == 1, saga_id
    workers_that_ran = set(SagaStepLog.objects.values_list("worker", flat=True))
    assert len(workers_that_ran) >= 2

    statuses = Counter(SagaExecution.objects.values_list("status", flat=True))
    assert set(statuses) <= {"completed", "compensated"}
    assert statuses["compensated"] >= SAGAS // 10
    assert 0 < statuses["completed"] <= 30
    ledger = shop.ledger()
    for execution in SagaExecution.objects.all():
        check_saga(ledger, execution.saga_id, execution.status, execution.context_data)
    check_global(ledger, on_hand)
    completed_orders = [o for o in ledger.orders if o["status"] != "cancelled"]
    assert len(completed_orders) == statuses["completed"]
