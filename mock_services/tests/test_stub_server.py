"""StubServer as the chaos tests use it: stopped (its port closed), then served again."""

from __future__ import annotations

import uuid

import pytest
import requests

from mock_services.testing import StubServer


def test_a_stopped_stub_refuses_connections_then_serves_its_data_on_the_same_port(stub_token):
    """While stopped, a call is refused (no HTTP answer at all); afterwards the stub answers on
    the same URL with the payment it held and the idempotency record of its charge."""
    headers = {"Authorization": f"Bearer {stub_token}", "Idempotency-Key": "charge-1"}
    body = {
        "user_id": str(uuid.uuid4()),
        "amount": 1250,
        "currency": "USD",
        "payment_method": {"type": "card", "token": "tok_visa"},
    }
    with StubServer("payments", stub_token) as payments:
        url = payments.url
        charged = requests.post(f"{url}/payments", json=body, headers=headers, timeout=5).json()
        with payments.stopped(), pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/payments/{charged['id']}", headers=headers, timeout=5)
        assert payments.url == url
        again = requests.post(f"{url}/payments", json=body, headers=headers, timeout=5)
        assert (again.status_code, again.json()) == (201, charged)
        stored = requests.get(f"{url}/payments/{charged['id']}", headers=headers, timeout=5)
        assert (stored.status_code, stored.json()) == (200, charged)
        assert [r["path"] for r in payments.requests()] == [
            "/payments",
            "/payments",
            f"/payments/{charged['id']}",
        ]
