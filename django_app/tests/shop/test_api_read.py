"""GET /api/orders/{id} and GET /api/orders?status=: the caller's own order requests."""

from __future__ import annotations

import pytest

from microservices.models import SagaExecution, SagaStatus

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
