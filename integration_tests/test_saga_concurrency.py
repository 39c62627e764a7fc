"""50 sagas at once, run by four `resume_sagas` worker processes competing on PostgreSQL.

Stock is short (some sagas must fail out of stock) and some cards are declined, so completions
and compensations interleave. No saga may be run by two workers, and the ledgers must balance.
"""

from __future__ import annotations

import subprocess
from collections import Counter

import pytest
from django.test import override_settings
from tests.shop.support import Shop, check_global, check_saga, two_items

from integration_tests.helpers import django_subprocess_env, manage_py_argv
from microservices.models import SagaExecution, SagaStepLog
from microservices.sagas.services import saga_create
from shop.order_processing import ORDER_PROCESSING, build_order_context

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SAGAS = 50
WORKERS = 4


@pytest.fixture
def shop(postgres, services_settings, reset_stubs):
    with override_settings(MICROSERVICES=services_settings):
        s = Shop(reset_stubs)
        yield s
        s.close()


def test_fifty_sagas_from_four_workers_balance_the_ledgers(shop, stubs, stub_token):
    """Every saga ends, each run by one worker only; stock on hand is unchanged, reserved equals
    the live reservations, each completed order has one payment, every other payment refunded."""
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
        saga_create(definition=ORDER_PROCESSING, saga_id=f"load-{n:02d}", context=context)

    env = django_subprocess_env(
        SERVICES_API_KEY=stub_token,
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        **{f"{name.upper()}_SERVICE_URL": server.url for name, server in stubs.items()},
    )
    argv = manage_py_argv("resume_sagas", "--until-idle", "--batch", str(SAGAS))
    workers = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(WORKERS)
    ]
    outputs = [w.communicate(timeout=240) for w in workers]
    assert [w.returncode for w in workers] == [0] * WORKERS, [e[-2000:] for _, e in outputs]

    finished = Counter(
        line.split()[0]
        for out, _ in outputs
        for line in out.splitlines()
        if line.startswith("load-")
    )
    assert sorted(finished) == [f"load-{n:02d}" for n in range(SAGAS)]
    assert set(finished.values()) == {1}
    for saga_id in finished:
        workers_seen = set(
            SagaStepLog.objects.filter(execution__saga_id=saga_id).values_list("worker", flat=True)
        )
        assert len(workers_seen) == 1, saga_id

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
