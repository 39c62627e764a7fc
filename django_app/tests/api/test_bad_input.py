"""Malformed bodies get a 4xx problem from the API's own handling, never Django's HTML page and
never a 500; the contract middleware's own failure is a 500 problem, not a traceback page."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from django_interlink.api.contract import ApiContract
from django_interlink.models import SagaExecution
from tests.shop.api_support import VALID_ORDER, ApiClient, problem_of

pytestmark = pytest.mark.django_db

DEEP = b"[" * 2000 + b"]" * 2000


@pytest.fixture
def api():
    client = ApiClient()
    # Answers as a server would give them: an exception becomes Django's 500 page, not a raise.
    client.client = Client(raise_request_exception=False)
    return client


def test_deep_nesting_is_a_400_problem(api):
    """2,000 `[` then 2,000 `]`: refused before json or the schema validator recurse."""
    response = api.post_order(raw=DEEP)
    assert response.status_code == 400
    assert problem_of(response)["type"].endswith("/malformed-body")
    assert "nests deeper than 32" in problem_of(response)["detail"]


def test_nesting_within_the_limit_but_deeper_than_the_setting_is_a_400(api):
    """A body json.loads reads fine (40 levels) is still refused over MAX_JSON_DEPTH."""
    body = b'{"items": ' + b"[" * 40 + b"]" * 40 + b"}"
    response = api.post_order(raw=body)
    assert response.status_code == 400
    assert "nests deeper than 32" in problem_of(response)["detail"]


def test_a_3mb_body_is_a_413_problem(api):
    """Over Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB): RequestDataTooBig, answered 413."""
    response = api.post_order(raw=b"x" * 3_000_000)
    assert response.status_code == 413
    assert problem_of(response)["type"].endswith("/payload-too-large")


def test_a_body_over_max_body_bytes_is_a_413_problem(api):
    """Under Django's limit but over the API's own (MAX_BODY_BYTES)."""
    with override_settings(INTERLINK={"API": {"CONTRACT": "shop.yaml", "MAX_BODY_BYTES": 100}}):
        response = api.post_order(VALID_ORDER | {"currency": "USD", "padding": "x" * 200})
    assert response.status_code == 413
    assert problem_of(response)["detail"] == "The request body is larger than 100 bytes."


@pytest.mark.parametrize(
    ("raw", "status", "kind"),
    [
        (b'{"items": "\xff\xfe"}', 400, "malformed-body"),  # not UTF-8
        (b'{"items": NaN}', 400, "malformed-body"),
        (b'{"items": [{"quantity": Infinity}]}', 400, "malformed-body"),
        (b'{"items": [', 400, "malformed-body"),
        (b'{"items": "two", "payment_method": 3}', 422, "validation-error"),  # wrong types
        (b"[]", 422, "validation-error"),
        (b'"just a string"', 422, "validation-error"),
        (b"", 422, "validation-error"),
    ],
)
def test_malformed_bodies_are_4xx_problems(api, raw, status, kind):
    response = api.post_order(raw=raw)
    assert (response.status_code, problem_of(response)["type"]) == (
        status,
        f"https://errors.example.com/{kind}",
    )
    assert not SagaExecution.objects.exists()


def test_nan_inside_a_valid_order_is_refused(api):
    """Python's json reads NaN as a float; the contract's integer check is not what stops it."""
    raw = (
        b'{"items": [{"product_id": "00000000-0000-4000-8000-000000000001", "quantity": 1, '
        b'"unit_price": NaN}], "payment_method": {"type": "card", "token": "tok_visa"}}'
    )
    response = api.post_order(raw=raw)
    assert response.status_code == 400
    assert "NaN is not a JSON number" in problem_of(response)["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_another_content_type_is_a_415_problem(api, content_type):
    response = api.post_order(raw=b"items=1", content_type=content_type)
    assert response.status_code == 415
    assert problem_of(response)["type"].endswith("/unsupported-media-type")


def test_the_middlewares_own_failure_is_a_500_problem(api, monkeypatch):
    """Whatever breaks inside the checker is answered as the API's problem, not Django's page."""

    def broken(self, request):
        raise RuntimeError("checker bug")

    monkeypatch.setattr(ApiContract, "check_request", broken)
    response = api.post_order()
    assert response.status_code == 500
    assert problem_of(response)["type"].endswith("/internal-server-error")
