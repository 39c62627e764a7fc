"""GET /api/orders/{id} and GET /api/orders?status=: the caller's own order requests."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from django_interlink.models import (
    SagaExecution,
    SagaStatus,
    SagaStepLog,
    StepDirection,
    StepLogStatus,
)

from .api_support import ApiClient

pytestmark = pytest.mark.django_db


def test_the_list_holds_only_the_callers_requests_newest_first():
    ada, bob = ApiClient("ada"), ApiClient("bob")
    first = ada.post_order(key="a-1").json()["id"]
    second = ada.post_order(key="a-2").json()["id"]
    bob.post_order(key="b-1")
    body = ada.get("/api/orders").json()
    assert [item["id"] for item in body["items"]] == [second, first]
    assert body["count"] == 2
    assert ada.get("/api/orders?limit=1").json()["count"] == 1


def test_the_status_filter_uses_the_apis_statuses():
    """?status=failed finds a compensated saga (the API shows it as failed) and only it."""
    ada = ApiClient("ada")
    failed = ada.post_order(key="a-1").json()["id"]
    ada.post_order(key="a-2")
    SagaExecution.objects.filter(saga_id=failed).update(status=SagaStatus.COMPENSATED)
    body = ada.get("/api/orders?status=failed").json()
    assert [(item["id"], item["status"]) for item in body["items"]] == [(failed, "failed")]
    assert body["items"][0]["problem"]["type"] == "https://errors.example.com/order-failed"
    assert ada.get("/api/orders?status=completed").json() == {"items": [], "count": 0}


def test_a_stuck_saga_reads_needs_attention_with_its_problem():
    ada = ApiClient("ada")
    location = ada.post_order().json()["id"]
    SagaExecution.objects.filter(saga_id=location).update(status=SagaStatus.NEEDS_ATTENTION)
    body = ada.get(f"/api/orders/{location}").json()
    assert body["status"] == "needs_attention"
    assert body["problem"]["type"] == "https://errors.example.com/order-needs-attention"


def test_a_waiting_undo_shows_which_step_waits_and_when_it_is_tried_next():
    """A compensating saga released until not_before reads as waiting on that undo (the
    contract middleware checks the body against shop.yaml); the reason stays in the admin."""
    ada = ApiClient("ada")
    saga_id = ada.post_order().json()["id"]
    execution = SagaExecution.objects.get(saga_id=saga_id)
    started = timezone.now() - timedelta(minutes=2)
    SagaStepLog.objects.create(
        execution=execution,
        step_index=2,
        step_name="process_payment",
        direction=StepDirection.COMPENSATION,
        attempt=5,
        status=StepLogStatus.FAILED,
        error="ServiceConnectionError: payments.refundPayment: NewConnectionError talking to ...",
        started_at=started,
        finished_at=started,
    )
    due = timezone.now() + timedelta(seconds=40)
    SagaExecution.objects.filter(saga_id=saga_id).update(
        status=SagaStatus.COMPENSATING,
        compensating=True,
        current_step=2,
        undos_left=[2],
        not_before=due,
        waiting_since=started,
        waits=3,
    )
    body = ada.get(f"/api/orders/{saga_id}").json()
    assert body["status"] == "compensating"
    assert body["waiting"] == {
        "step": "process_payment",
        "direction": "compensate",
        "since": started.isoformat().replace("+00:00", "Z"),
        "next_attempt_at": due.isoformat().replace("+00:00", "Z"),
        "waits": 3,
    }
    assert "NewConnectionError" not in json.dumps(body)
