"""Crash safety: the saga's process is SIGKILLed at every step and every compensation,
then `manage.py resume_sagas` brings every saga to its end with the invariants holding.

Each saga is stored PENDING, then run by `resume_sagas --saga-id` in a child process whose env
SAGA_CRASH_AT names the point where it kills itself (the default hook of sagas/crash.py). The
stubs live in this test process, so they outlive the child; so does PostgreSQL.
"""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from tests.shop.support import Shop, check_global, check_saga, two_items

from django_interlink.models import OutboxEvent, SagaExecution, SagaStepLog
from django_interlink.sagas.services import saga_create
from integration_tests.helpers import django_subprocess_env, manage_py_argv
from mock_services.waiting import wait_until
from shop.order_processing import ORDER_PROCESSING, build_order_context

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

STEPS = [s.name for s in ORDER_PROCESSING.steps]
UNDONE = [s.name for s in ORDER_PROCESSING.steps if s.compensation is not None]
FORWARD_POINTS = [f"{when}_action:{step}" for step in STEPS for when in ("before", "after")] + [
    "action:reserve_inventory:item-0"
]
BACKWARD_POINTS = [
    f"{when}_compensation:{step}" for step in reversed(UNDONE) for when in ("before", "after")
] + ["compensation:reserve_inventory:item-1"]
FAILING_MAIL = "tests.shop.failing_email.EmailBackend"
LOCMEM_MAIL = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def shop(postgres, services_settings, reset_stubs):
    with override_settings(INTERLINK=services_settings):
        s = Shop(reset_stubs)
        yield s
        s.close()


def child_env(stubs: dict[str, Any], token: str, **extra: str) -> dict[str, str]:
    env = {f"{name.upper()}_SERVICE_URL": server.url for name, server in stubs.items()}
    return django_subprocess_env(SERVICES_API_KEY=token, LOG_LEVEL="INFO", **env, **extra)


def resume(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        manage_py_argv("resume_sagas", *args),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def crash_each(shop, stubs, token, points: list[str], *, mail_backend: str) -> dict[str, str]:
    """One saga per point, each run by a child killed at that point; returns saga_id -> point."""
    products = [shop.product(1000, sku="CRASH-A"), shop.product(1000, sku="CRASH-B")]
    user_id = shop.user()
    sagas = {}
    for n, point in enumerate(points):
        saga_id = f"crash-{n}-{point.replace(':', '-')}"
        context = build_order_context(
            user_id=user_id,
            items=two_items(2, 1, widget_id=products[0], gadget_id=products[1]),
            payment_method="tok_visa",
        )
        saga_create(definition=ORDER_PROCESSING, saga_id=saga_id, context=context)
        env = child_env(stubs, token, SAGA_CRASH_AT=point, EMAIL_BACKEND=mail_backend)
        proc = resume(env, "--saga-id", saga_id, "--lease-seconds", "1")
        assert proc.returncode == -signal.SIGKILL, (point, proc.returncode, proc.stderr[-2000:])
        assert f"saga crash point {point} reached" in proc.stderr
        execution = SagaExecution.objects.get(saga_id=saga_id)
        assert not execution.is_terminal, point
        sagas[saga_id] = point
    return sagas


def recover_and_check(shop, stubs, token, sagas: dict[str, str], expected: str) -> None:
    on_hand = {pid: p["on_hand"] for pid, p in shop.ledger().products.items()}
    wait_until(
        lambda: not SagaExecution.objects.filter(lease_expires_at__gt=timezone.now()).exists(),
        timeout=15,
        what="the leases of the killed workers to expire",
    )
    proc = resume(child_env(stubs, token, EMAIL_BACKEND=LOCMEM_MAIL), "--until-idle")
    assert proc.returncode == 0, proc.stderr[-3000:]
    ledger = shop.ledger()
    for saga_id, point in sagas.items():
        execution = SagaExecution.objects.get(saga_id=saga_id)
        assert (point, execution.status) == (point, expected)
        check_saga(ledger, saga_id, execution.status, execution.context_data)
        interrupted = SagaStepLog.objects.filter(execution=execution, finished_at__isnull=True)
        assert interrupted.count() == 1, point  # the attempt the kill cut short, kept visible
    check_global(ledger, on_hand)
    expected_events = (
        {"payment.processed": 1, "order.created": 1}
        if expected == "completed"
        else {
            "payment.processed": 1,
            "order.created": 1,
            "order.cancelled": 1,
            "payment.refunded": 1,
        }
    )
    for saga_id, point in sagas.items():
        # Each step's events commit with its result: a resumed step never emits twice.
        events = Counter(
            OutboxEvent.objects.filter(correlation_id=saga_id).values_list("event_type", flat=True)
        )
        assert (point, dict(events)) == (point, expected_events)


def test_killed_during_any_action_resumes_forward_to_completed(shop, stubs, stub_token):
    """SIGKILL before/after each action (and between two reservations): resumed, COMPLETED,
    one charge, one order, every item reserved exactly once."""
    sagas = crash_each(shop, stubs, stub_token, FORWARD_POINTS, mail_backend=LOCMEM_MAIL)
    recover_and_check(shop, stubs, stub_token, sagas, "completed")


def test_killed_during_any_compensation_resumes_backward_to_compensated(shop, stubs, stub_token):
    """The confirmation fails so everything is undone; SIGKILL before/after each compensation
    (and between two releases): resumed backward, COMPENSATED, refunded, cancelled, released."""
    sagas = crash_each(shop, stubs, stub_token, BACKWARD_POINTS, mail_backend=FAILING_MAIL)
    recover_and_check(shop, stubs, stub_token, sagas, "compensated")
    for saga_id in sagas:
        _, payments, orders = shop.ledger().for_saga(saga_id)
        assert [p["status"] for p in payments] == ["refunded"]
        assert [o["status"] for o in orders] == ["cancelled"]


def test_sigterm_lets_a_looping_worker_finish_and_exit_cleanly(shop, stubs, stub_token):
    """A worker in its polling loop exits 0 on SIGTERM, after the sagas it had work for."""
    context = build_order_context(
        user_id=shop.user(), items=two_items(1, 1), payment_method="tok_visa"
    )
    saga_create(definition=ORDER_PROCESSING, saga_id="term-1", context=context)
    worker = subprocess.Popen(
        manage_py_argv("resume_sagas", "--poll-interval", "0.1"),
        env=child_env(stubs, stub_token, EMAIL_BACKEND=LOCMEM_MAIL),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def completed() -> bool:
        if SagaExecution.objects.get(saga_id="term-1").status == "completed":
            return True
        assert worker.poll() is None  # the worker is still looping
        return False

    try:
        wait_until(completed, timeout=60, what="the worker to complete term-1")
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err[-2000:]
    assert out.splitlines() == ["term-1 completed", "resumed 1 saga(s)"]
