"""POST /api/orders accepts and hands off: one PENDING saga, no step run, no service called."""

from __future__ import annotations

import pytest

from django_interlink.models import IdempotencyRecord, SagaExecution, SagaStepLog
from django_interlink.sagas.services import saga_resume_stale
from shop.order_processing import SAGA_TYPE

from .api_support import VALID_ORDER, ApiClient
from .support import WIDGET_PRICE, Shop, two_items

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(saga_settings, reset_stubs):
    """An API client for a user of the running users stub (whose request logs are checked)."""
    shop = Shop(reset_stubs)
    try:
        user_id = shop.user()
    finally:
        shop.close()
    return ApiClient(user_id=user_id)


def stub_requests(stubs) -> dict[str, int]:
    """How many requests each stub has received so far."""
    return {name: len(server.requests()) for name, server in stubs.items()}


def test_post_stores_one_pending_saga_and_runs_nothing(api, reset_stubs):
    """202 with Location; exactly one PENDING, unowned saga; no step log; no stub was called."""
    before = stub_requests(reset_stubs)
    response = api.post_order()
    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == f"/api/orders/{body['id']}"
    [execution] = SagaExecution.objects.all()
    assert (execution.saga_id, execution.saga_type, execution.status) == (
        body["id"],
        SAGA_TYPE,
        "pending",
    )
    assert (execution.lease_owner, execution.lease_expires_at) == ("", None)
    assert execution.context_data["user_id"] == api.user_id
    assert execution.context_data["items"] == VALID_ORDER["items"]
    assert "total_amount" not in execution.context_data  # priced when the units are reserved
    assert not SagaStepLog.objects.exists()
    assert stub_requests(reset_stubs) == before
    assert body == {
        "id": body["id"],
        "status": "pending",
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "steps": [],
        "order_id": None,
        "payment_id": None,
        "reservation_ids": [],
        "problem": None,
        "waiting": None,
    }
    assert IdempotencyRecord.objects.get().status_code == 202


def test_a_worker_pass_runs_the_accepted_order_and_get_shows_it(api):
    """After one resume_sagas pass, GET shows completed with the five steps and the ids."""
    order = {**VALID_ORDER, "items": two_items()}
    location = api.post_order(order)["Location"]
    [result] = saga_resume_stale(owner="test-worker")
    assert result.status == "completed"
    body = api.get(location).json()
    assert body["status"] == "completed"
    assert [(s["name"], s["direction"], s["outcome"]) for s in body["steps"]] == [
        (name, "forward", "succeeded")
        for name in (
            "validate_user",
            "reserve_inventory",
            "process_payment",
            "create_order",
            "send_confirmation",
        )
    ]
    assert all(s["duration_ms"] is not None and s["attempt"] == 1 for s in body["steps"])
    assert body["order_id"] == result.context["order_id"]
    assert body["payment_id"] == result.context["payment"]["id"]
    assert len(body["reservation_ids"]) == 2
    assert body["problem"] is None


def test_a_declined_card_shows_failed_with_compensations_and_a_problem(api):
    """tok_declined: failed, the undo steps listed as compensate, problem order-failed."""
    declined = {"type": "card", "token": "tok_declined"}
    order = {**VALID_ORDER, "items": two_items(), "payment_method": declined}
    location = api.post_order(order)["Location"]
    saga_resume_stale(owner="test-worker")
    body = api.get(location).json()
    assert body["status"] == "failed"
    compensations = [s["name"] for s in body["steps"] if s["direction"] == "compensate"]
    assert compensations == ["process_payment", "reserve_inventory"]
    assert body["problem"]["type"] == "https://errors.example.com/order-failed"
    assert "declined" in body["problem"]["detail"]
    assert body["payment_id"] is None


@pytest.mark.parametrize(
    ("sent", "status"), [(WIDGET_PRICE, "completed"), (WIDGET_PRICE + 100, "failed")]
)
def test_a_sent_unit_price_must_be_the_catalogues(api, sent, status):
    """The deprecated unit_price is accepted; the worker completes the order when it is the
    catalogue's price and fails it, with a problem saying the price changed, when it is not."""
    items = [{**two_items()[0], "unit_price": sent}]
    location = api.post_order({**VALID_ORDER, "items": items})["Location"]
    saga_resume_stale(owner="test-worker")
    body = api.get(location).json()
    assert body["status"] == status
    if status == "failed":
        assert body["problem"]["type"] == "https://errors.example.com/order-failed"
        assert "price changed for product " in body["problem"]["detail"]
        assert body["payment_id"] is None
