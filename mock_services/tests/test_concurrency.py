"""The stubs' stores stay consistent under concurrent requests from many threads."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from mock_services.inventory.store import GADGET_ID

THREADS = 16


def test_concurrent_reservations_never_oversell(api, stub_token):
    """40 parallel one-unit reservations of a 10-unit product: exactly 10 succeed."""
    url = api["inventory"].url + "/reservations"
    headers = {"Authorization": f"Bearer {stub_token}"}

    def reserve(_: int) -> int:
        body = {"product_id": GADGET_ID, "quantity": 1}
        return requests.post(url, json=body, headers=headers, timeout=10).status_code

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = Counter(pool.map(reserve, range(40)))
    product = api["inventory"].get(f"/products/{GADGET_ID}").json()
    assert statuses == Counter({201: 10, 409: 30})
    assert (product["reserved"], product["available"]) == (10, 0)


def test_concurrent_refunds_never_exceed_the_payment(api, stub_token):
    """Parallel refunds of 100 on a 1000 payment: exactly 10 succeed, refunded_amount is 1000."""
    payment = (
        api["payments"]
        .post(
            "/payments",
            json={
                "user_id": "4b0e8bd5-2a8e-4f67-8c59-0b2a0b0d6d1e",
                "amount": 1000,
                "currency": "EUR",
                "payment_method": {"type": "card", "token": "tok_visa"},
            },
        )
        .json()
    )
    url = f"{api['payments'].url}/payments/{payment['id']}/refund"
    headers = {"Authorization": f"Bearer {stub_token}"}

    def refund(_: int) -> int:
        return requests.post(url, json={"amount": 100}, headers=headers, timeout=10).status_code

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = Counter(pool.map(refund, range(25)))
    final = api["payments"].get(f"/payments/{payment['id']}").json()
    assert statuses == Counter({201: 10, 422: 15})
    assert (final["refunded_amount"], final["status"]) == (1000, "refunded")


def test_concurrent_requests_with_one_idempotency_key_run_once(api, stub_token):
    """Many parallel POSTs with the same key create one user; the others replay it or get 409."""
    url = api["users"].url + "/users"
    headers = {"Authorization": f"Bearer {stub_token}", "Idempotency-Key": "race"}
    body = {"email": "race@example.com", "name": "Race"}

    def create(_: int) -> tuple[int, str | None]:
        response = requests.post(url, json=body, headers=headers, timeout=10)
        user_id = response.json().get("id") if response.status_code == 201 else None
        return response.status_code, user_id

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(create, range(THREADS)))
    created_ids = {user_id for status, user_id in results if status == 201}
    assert {status for status, _ in results} <= {201, 409}
    assert len(created_ids) == 1
    assert api["users"].get("/users/search", params={"q": "race"}).json()["count"] == 1


def test_concurrent_distinct_creations_are_all_kept(api, stub_token):
    """Parallel creations of different users all succeed and are all readable."""
    url = api["users"].url + "/users"
    headers = {"Authorization": f"Bearer {stub_token}"}

    def create(index: int) -> str:
        body = {"email": f"user{index}@example.com", "name": f"Parallel {index}"}
        response = requests.post(url, json=body, headers=headers, timeout=10)
        assert response.status_code == 201
        return str(response.json()["id"])

    with ThreadPoolExecutor(THREADS) as pool:
        ids = list(pool.map(create, range(50)))
    found = api["users"].get("/users/search", params={"q": "parallel", "limit": 100}).json()
    assert len(set(ids)) == 50
    assert found["count"] == 50
