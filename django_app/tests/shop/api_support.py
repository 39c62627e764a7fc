"""Helpers of the orders-API tests: an account with a token, and requests to the API."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.test import Client

from shop.api.services import customer_token_issue

VALID_ORDER: dict[str, Any] = {
    "items": [{"product_id": "00000000-0000-4000-8000-000000000001", "quantity": 2}],
    "currency": "USD",
    "payment_method": {"type": "card", "token": "tok_visa"},
}


class ApiClient:
    """Django's test client with one account's bearer token."""

    def __init__(self, username: str = "ada", user_id: str | None = None) -> None:
        self.user_id = user_id or str(uuid.uuid4())
        self.token, _ = customer_token_issue(username=username, user_id=self.user_id)
        self.client = Client()

    def auth(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}

    def post_order(
        self, body: Any = None, *, key: str | None = "key-1", raw: bytes | None = None, **extra: Any
    ) -> Any:
        headers = {**self.auth(), **extra}
        if key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        data = raw if raw is not None else json.dumps(VALID_ORDER if body is None else body)
        content_type = headers.pop("content_type", "application/json")
        return self.client.post("/api/orders", data, content_type=content_type, **headers)

    def get(self, path: str, **extra: Any) -> Any:
        return self.client.get(path, **{**self.auth(), **extra})


def problem_of(response: Any) -> dict[str, Any]:
    """The problem body, after checking it is one (media type, RFC 9457 members)."""
    assert response["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    assert body["type"].startswith("https://errors.example.com/")
    assert {"title", "detail"} <= set(body)
    return body
