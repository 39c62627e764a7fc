"""The stub's request log: every service request with its receive time, never the control plane."""

from __future__ import annotations

import contextlib
import time

import requests

from mock_services.testing import StubServer


def test_every_service_request_is_logged_in_arrival_order(stub_token):
    """Requests refused by auth are logged too; control-plane calls are not; reset forgets."""
    with StubServer("users", stub_token) as users:
        before = time.time()
        headers = {"Authorization": f"Bearer {stub_token}", "X-Request-ID": "req-1"}
        requests.get(
            f"{users.url}/users/00000000-0000-4000-8000-000000000009", headers=headers, timeout=5
        )
        requests.get(f"{users.url}/users", timeout=5)  # no credentials: 401, still received
        users.faults.list()
        logged = users.requests()
        assert [(r["method"], r["path"]) for r in logged] == [
            ("GET", "/users/00000000-0000-4000-8000-000000000009"),
            ("GET", "/users"),
        ]
        assert logged[0]["request_id"] == "req-1"
        assert before <= logged[0]["received_at"] <= logged[1]["received_at"] <= time.time()
        assert users.requests(method="GET", path="/users") == [logged[1]]
        users.reset()
        assert users.requests() == []


def test_each_logged_request_carries_the_status_it_was_answered_with(stub_token):
    """404 and 401 as answered; a lost_response fault (applied, then the connection closed)
    leaves no status, as no answer left the stub; answered requests have a duration."""
    with StubServer("users", stub_token) as users:
        headers = {"Authorization": f"Bearer {stub_token}"}
        requests.get(
            f"{users.url}/users/00000000-0000-4000-8000-000000000009", headers=headers, timeout=5
        )
        requests.get(f"{users.url}/users", timeout=5)
        users.faults.add(method="POST", path="/users", kind="lost_response")
        body = {"email": "lost@example.com", "name": "Lost"}
        with contextlib.suppress(requests.ConnectionError):
            requests.post(f"{users.url}/users", json=body, headers=headers, timeout=5)
        logged = users.requests()
        assert [(r["path"], r["status"]) for r in logged] == [
            ("/users/00000000-0000-4000-8000-000000000009", 404),
            ("/users", 401),
            ("/users", None),
        ]
        assert [r["duration_ms"] is not None and r["duration_ms"] >= 0 for r in logged] == [
            True,
            True,
            False,
        ]


def test_a_logged_request_says_whether_the_idempotency_store_answered_it(stub_token):
    """The first POST with a key runs (replayed false); the same POST again is answered from the
    store (replayed true); a POST without a key is never a replay."""
    with StubServer("users", stub_token) as users:
        headers = {"Authorization": f"Bearer {stub_token}", "Idempotency-Key": "key-1"}
        body = {"email": "once@example.com", "name": "Once"}
        for _ in range(2):
            requests.post(f"{users.url}/users", json=body, headers=headers, timeout=5)
        requests.post(
            f"{users.url}/users",
            json={"email": "other@example.com", "name": "Other"},
            headers={"Authorization": f"Bearer {stub_token}"},
            timeout=5,
        )
        logged = users.requests(method="POST")
        assert [(r["idempotency_key"], r["status"], r["replayed"]) for r in logged] == [
            ("key-1", 201, False),
            ("key-1", 201, True),
            (None, 201, False),
        ]
