"""Every error of the orders API is a problem+json: 401, 403, 404, 405, 415, 400, 422."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from django_interlink.api.tokens import api_token_revoke
from django_interlink.models import SagaExecution

from .api_support import VALID_ORDER, ApiClient, problem_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return ApiClient()


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic YWRhOnB3"])
def test_without_a_valid_token_every_operation_is_a_401(api, authorization):
    """No token, an unknown one, or another scheme: 401 with a bearer challenge."""
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    client = Client()
    for response in (
        client.get("/api/orders", **headers),
        client.get("/api/orders/3f9a1c52-7e0b-4d5e-9a61-2b8c4d7e9f01", **headers),
        client.post(
            "/api/orders",
            VALID_ORDER,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="k",
            **headers,
        ),
    ):
        assert response.status_code == 401
        assert problem_of(response)["type"].endswith("/unauthorized")
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert not SagaExecution.objects.exists()


def test_a_revoked_token_is_a_401(api):
    assert api_token_revoke(token=api.token)
    assert api.get("/api/orders").status_code == 401


def test_another_users_order_is_a_403_and_an_unknown_one_a_404(api):
    location = api.post_order()["Location"]
    other = ApiClient(username="bob")
    response = other.get(location)
    assert response.status_code == 403
    assert problem_of(response)["type"].endswith("/forbidden")
    unknown = api.get("/api/orders/3f9a1c52-7e0b-4d5e-9a61-2b8c4d7e9f01")
    assert unknown.status_code == 404
    assert problem_of(unknown)["instance"] == "/api/orders/3f9a1c52-7e0b-4d5e-9a61-2b8c4d7e9f01"
    assert api.get("/api/orders/not-a-uuid").status_code == 404


def test_an_unsupported_method_is_a_405_with_allow(api):
    response = api.client.delete("/api/orders", **api.auth())
    assert response.status_code == 405
    assert problem_of(response)["type"].endswith("/method-not-allowed")
    assert response["Allow"] == "GET, POST"


def test_malformed_json_is_a_400_and_another_media_type_a_415(api):
    malformed = api.post_order(raw=b'{"items": [')
    assert malformed.status_code == 400
    assert problem_of(malformed)["type"].endswith("/malformed-body")
    text = api.post_order(raw=b"items", content_type="text/plain")
    assert text.status_code == 415
    assert problem_of(text)["type"].endswith("/unsupported-media-type")
    assert not SagaExecution.objects.exists()


def test_a_body_the_contract_refuses_is_a_422_naming_each_field(api):
    body = {
        "items": [{"product_id": "p", "quantity": 0, "unit_price": 1}],
        "payment_method": {"type": "card", "token": "tok_visa"},
        "user_id": "someone-else",
    }
    response = api.post_order(body)
    assert response.status_code == 422
    problem = problem_of(response)
    assert problem["type"].endswith("/validation-error")
    fields = {entry["field"] for entry in problem["errors"]}
    assert {"items.0.product_id", "items.0.quantity"} <= fields
    assert any("user_id" in entry["message"] for entry in problem["errors"])
    assert not SagaExecution.objects.exists()


def test_a_bad_query_parameter_is_a_422(api):
    response = api.get("/api/orders?limit=0")
    assert response.status_code == 422
    assert [e["field"] for e in problem_of(response)["errors"]] == ["limit"]


def test_every_response_carries_the_request_id(api):
    response = api.get("/api/orders", HTTP_X_REQUEST_ID="req-42")
    assert response["X-Request-ID"] == "req-42"
    refused = Client().get("/api/orders", HTTP_X_REQUEST_ID="req-43")
    assert refused["X-Request-ID"] == "req-43"


def test_an_order_the_payments_service_could_not_carry_is_a_422_at_the_door(api):
    """An order of 101 x 100000000 (over the largest payment, 10000000000): refused
    before a saga exists, one errors[] entry naming the price no catalogue price can equal."""
    body = {
        "items": [
            {
                "product_id": "00000000-0000-4000-8000-000000000001",
                "quantity": 101,
                "unit_price": 100_000_000,
            }
        ],
        "payment_method": {"type": "card", "token": "tok_visa"},
    }
    response = api.post_order(body)
    assert response.status_code == 422
    problem = problem_of(response)
    assert problem["type"].endswith("/validation-error")
    assert [entry["field"] for entry in problem["errors"]] == ["items.0.unit_price"]
    assert "200000" in problem["errors"][0]["message"]
    assert not SagaExecution.objects.exists()


@pytest.mark.parametrize("bad", ["req 1", "caf\u00e9"])
def test_a_request_id_outside_the_pattern_is_a_422_with_a_minted_id(api, bad):
    """What shop.yaml's RequestId parameter says: refused (422 validation-error), and the
    answer's X-Request-ID is a minted UUID, not the refused value."""
    response = api.get("/api/orders", HTTP_X_REQUEST_ID=bad)
    minted = response["X-Request-ID"]
    assert response.status_code == 422
    assert problem_of(response)["type"] == "https://errors.example.com/validation-error"
    assert str(uuid.UUID(minted)) == minted
