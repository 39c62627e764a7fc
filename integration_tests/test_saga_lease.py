"""A saga's lease while one of its steps waits on a slow call, on PostgreSQL against the stubs.

Worker A runs the order saga in a thread of its own, as another process would; the lease is one
second and one call lasts six (a stub `latency` fault). A step slower than its lease keeps the
saga: A's heartbeat renews the lease, so worker B, polling all along, claims nothing. And once
another worker does hold the saga, A stops before its next call and writes nothing more.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from tests.shop.support import Shop, check_saga, two_items

from django_interlink.exceptions import SagaLeaseLost
from django_interlink.models import OutboxEvent, SagaExecution, SagaStepLog
from django_interlink.sagas.definition import SagaDefinition, SagaStep, StepContext
from django_interlink.sagas.services import SagaResult, saga_execute, saga_resume_stale
from mock_services.waiting import wait_until
from shop.event_samples import sample_data
from shop.order_processing import ORDER_PROCESSING, build_order_context

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LEASE = 1.0
SLOW = 6.0  # seconds one call takes: six leases


@pytest.fixture
def shop(postgres, services_settings, reset_stubs):
    conf = dict(services_settings)
    # The slow call must not time out, and the step's time budget stays below the lease (E061).
    conf["SERVICES"] = {name: {**svc, "TIMEOUT": 30.0} for name, svc in conf["SERVICES"].items()}
    conf["SAGA"] = {**conf.get("SAGA", {}), "LEASE_SECONDS": LEASE, "STEP_TIMEOUT": 0.5}
    with override_settings(INTERLINK=conf):
        s = Shop(reset_stubs)
        yield s
        s.close()


class Worker(threading.Thread):
    """`saga_execute` in a thread with its own database connection; keeps the outcome."""

    def __init__(self, saga_id: str, context: dict[str, Any], owner: str) -> None:
        super().__init__(name=owner, daemon=True)
        self.saga_id, self.context, self.owner = saga_id, context, owner
        self.result: SagaResult | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = saga_execute(
                definition=ORDER_PROCESSING,
                saga_id=self.saga_id,
                context=self.context,
                owner=self.owner,
            )
        except BaseException as exc:
            self.error = exc
        finally:
            connection.close()


def order(shop: Shop) -> dict[str, Any]:
    return build_order_context(user_id=shop.user(), items=two_items(), payment_method="tok_visa")


def hits(shop: Shop, service: str, fault_id: str) -> int:
    return next(f["hits"] for f in shop.faults(service).list() if f["id"] == fault_id)


def test_a_step_slower_than_its_lease_keeps_its_saga(shop):
    """The payment call lasts six leases; worker B polls for stale sagas all the while and
    finds none, and every step of the saga is logged by worker A, who completes it."""
    slow = shop.faults("payments").add(method="POST", path="/payments", kind="latency", delay=SLOW)
    a = Worker("slow", order(shop), "worker-a")
    a.start()
    wait_until(
        lambda: hits(shop, "payments", slow) == 1,
        timeout=30,
        what="worker A's payment to reach the stub",
    )
    polled_at, claimed = [], []
    deadline = time.monotonic() + 120
    while a.is_alive():
        assert time.monotonic() < deadline, "worker A never finished"
        claimed += saga_resume_stale(owner="worker-b")
        polled_at.append(timezone.now())
        time.sleep(0.1)
    assert a.error is None
    assert a.result is not None
    assert a.result.status == "completed"
    assert claimed == []
    payment = SagaStepLog.objects.get(execution__saga_id="slow", step_name="process_payment")
    lapsed = payment.started_at + timedelta(seconds=LEASE)  # the lease A started the call with
    assert payment.finished_at is not None
    assert any(lapsed < t < payment.finished_at for t in polled_at), "B never polled in time"
    workers = SagaStepLog.objects.filter(execution__saga_id="slow").values_list("worker", flat=True)
    assert set(workers) == {"worker-a"}
    check_saga(shop.ledger(), "slow", a.result.status, a.result.context)


def test_a_worker_whose_lease_was_taken_stops_before_its_next_call(shop):
    """While worker A waits on its first reservation, another worker takes the saga over: the
    second reservation is never sent, A ends with SagaLeaseLost and writes nothing more."""
    inventory = shop.faults("inventory")
    slow = inventory.add(method="POST", path="/reservations", kind="latency", delay=SLOW)
    # Matches every later reservation without changing it: its hits count them.
    later = inventory.add(method="POST", path="/reservations", kind="latency", delay=0, times=0)
    a = Worker("taken", order(shop), "worker-a")
    a.start()
    wait_until(
        lambda: hits(shop, "inventory", slow) == 1,
        timeout=30,
        what="worker A's reservation to reach the stub",
    )
    SagaExecution.objects.filter(saga_id="taken").update(
        lease_owner="worker-b", lease_expires_at=timezone.now() + timedelta(minutes=5)
    )
    row = SagaExecution.objects.filter(saga_id="taken").values().get()
    logs = list(SagaStepLog.objects.filter(execution__saga_id="taken").values())
    a.join(timeout=120)
    assert not a.is_alive()
    assert isinstance(a.error, SagaLeaseLost)
    assert hits(shop, "inventory", later) == 0
    reservations, payments, _ = shop.ledger().for_saga("taken")
    assert [(r["product_id"], r["status"]) for r in reservations] == [
        (two_items()[0]["product_id"], "active")
    ]
    assert payments == []
    assert SagaExecution.objects.filter(saga_id="taken").values().get() == row
    assert list(SagaStepLog.objects.filter(execution__saga_id="taken").values()) == logs
    assert (logs[-1]["step_name"], logs[-1]["status"]) == ("reserve_inventory", "running")


def test_a_lost_lease_puts_no_event_in_the_outbox(shop):
    """A step's event is written by the move that ends the step, in its one statement: once
    another worker holds the saga, that move writes nothing, the event included."""

    def emit_then_lose(ctx: StepContext) -> None:
        ctx.emit("payment.processed", sample_data("payment.processed"))
        SagaExecution.objects.filter(saga_id=ctx.saga_id).update(lease_owner="worker-b")

    def emit(ctx: StepContext) -> None:
        ctx.emit("payment.processed", sample_data("payment.processed"))

    definition = SagaDefinition(
        "lease_outbox", [SagaStep("pay", emit), SagaStep("lose", emit_then_lose)]
    )
    with pytest.raises(SagaLeaseLost):
        saga_execute(definition=definition, saga_id="outbox", context={}, owner="worker-a")
    steps = SagaStepLog.objects.filter(execution__saga_id="outbox").values_list(
        "step_name", "status"
    )
    assert list(steps.order_by("id")) == [("pay", "succeeded"), ("lose", "running")]
    assert OutboxEvent.objects.filter(correlation_id="outbox").count() == 1
