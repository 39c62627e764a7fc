"""Idempotency-Key on POST /api/orders: replay, 422 with another body, 409 while in flight,
400 without one; the records are per account and in the database."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from django_interlink.api.idempotency import fingerprint
from django_interlink.models import IdempotencyRecord, SagaExecution

from .api_support import VALID_ORDER, ApiClient, problem_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return ApiClient()


def test_same_key_and_body_replays_the_first_response(api):
    """The retry gets the stored 202 (same body, same Location) marked replayed; one saga."""
    first = api.post_order(key="k-1")
    again = api.post_order(key="k-1")
    assert again.status_code == 202
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert SagaExecution.objects.count() == 1


def test_same_key_with_another_body_is_a_422(api):
    """Reusing a key for a different order is refused; nothing new is stored."""
    api.post_order(key="k-1")
    other = {**VALID_ORDER, "currency": "EUR"}
    response = api.post_order(other, key="k-1")
    assert response.status_code == 422
    assert problem_of(response)["type"].endswith("/idempotency-key-reused")
    assert SagaExecution.objects.count() == 1


def test_a_key_whose_first_request_is_in_flight_is_a_409(api):
    """A record without a response (its request still running) answers 409."""
    user = get_user_model().objects.get(username="ada")
    body = json.dumps(VALID_ORDER).encode()
    IdempotencyRecord.objects.create(
        user=user,
        key="k-busy",
        fingerprint=fingerprint(method="POST", path="/api/orders", body=body),
    )
    response = api.post_order(raw=body, key="k-busy")
    assert response.status_code == 409
    assert problem_of(response)["type"].endswith("/idempotency-key-in-use")
    assert not SagaExecution.objects.exists()


def test_without_a_key_the_post_is_a_400(api):
    response = api.post_order(key=None)
    assert response.status_code == 400
    assert problem_of(response)["type"].endswith("/idempotency-key-missing")
    assert not SagaExecution.objects.exists()


def test_keys_are_scoped_to_the_account(api):
    """Another account's identical key and body is its own request: a second saga."""
    other = ApiClient(username="bob")
    api.post_order(key="k-1")
    response = other.post_order(key="k-1")
    assert response.status_code == 202
    assert "Idempotent-Replayed" not in response
    assert SagaExecution.objects.count() == 2


def test_a_refused_request_leaves_no_record(api):
    """An account without a shop user gets 403; the key stays free for a later attempt."""
    get_user_model().objects.create_user("nobody")
    from django_interlink.api.tokens import api_token_issue

    token = api_token_issue(user=get_user_model().objects.get(username="nobody"))
    response = api.client.post(
        "/api/orders",
        json.dumps(VALID_ORDER),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert response.status_code == 403
    assert not IdempotencyRecord.objects.exists()
