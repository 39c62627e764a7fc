"""Idempotency-Key on the stubs' POSTs (IETF draft semantics), over real sockets."""

from __future__ import annotations

import json
import threading

import pytest
import requests

from servers.waiting import wait_until

USER_ID = "4b0e8bd5-2a8e-4f67-8c59-0b2a0b0d6d1e"
PAYMENT = {
    "user_id": USER_ID,
    "amount": 1000,
    "currency": "EUR",
    "payment_method": {"type": "card", "token": "tok_visa"},
}


USER = {"email": "a@example.com", "name": "A"}
JSON = {"Content-Type": "application/json"}


def _wait_for_hit(server, fault_id: str) -> None:
    wait_until(
        lambda: any(f["id"] == fault_id and f["hits"] == 1 for f in server.faults.list()),
        timeout=10,
        interval=0.01,
        what="the first request to reach its latency fault",
    )


REFUSED_RETRIES = [
    pytest.param({"X-Request-ID": "bad id"}, "X-Request-ID", id="x-request-id-with-a-space"),
    pytest.param({"Content-Type": "text/plain"}, "body", id="json-sent-as-text-plain"),
]


def test_same_key_and_body_replays_the_first_response(api):
    """The retry gets the stored 201 (same id) with Idempotent-Replayed: true."""
    headers = {"Idempotency-Key": "pay-1"}
    first = api["payments"].post("/payments", json=PAYMENT, headers=headers)
    again = api["payments"].post("/payments", json=PAYMENT, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Location"] == first.headers["Location"]


def test_replay_carries_the_retry_request_id(api):
    """A replayed response echoes the retry's X-Request-ID, not the stored one."""
    api["payments"].post(
        "/payments", json=PAYMENT, headers={"Idempotency-Key": "k", "X-Request-ID": "a"}
    )
    again = api["payments"].post(
        "/payments", json=PAYMENT, headers={"Idempotency-Key": "k", "X-Request-ID": "b"}
    )
    assert again.headers["X-Request-ID"] == "b"


def test_key_order_and_spacing_do_not_change_the_fingerprint(api):
    """The same JSON document spelled differently still replays."""
    headers = {"Idempotency-Key": "pay-2", "Content-Type": "application/json"}
    first = api["payments"].post(
        "/payments",
        data=b'{"user_id":"%s","amount":1000,"currency":"EUR",'
        b'"payment_method":{"type":"card","token":"tok_visa"}}' % USER_ID.encode(),
        headers=headers,
    )
    again = api["payments"].post(
        "/payments",
        data=b'{ "payment_method": {"token": "tok_visa", "type": "card"}, "currency": "EUR",'
        b' "amount": 1000, "user_id": "%s" }' % USER_ID.encode(),
        headers=headers,
    )
    assert again.json()["id"] == first.json()["id"]


def test_same_key_with_another_body_is_422(api):
    """Reusing a key for a different payload is refused and changes nothing."""
    headers = {"Idempotency-Key": "pay-3"}
    first = api["payments"].post("/payments", json=PAYMENT, headers=headers)
    other = api["payments"].post("/payments", json={**PAYMENT, "amount": 5}, headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "https://errors.example.com/idempotency-key-reused"
    assert api["payments"].get(f"/payments/{first.json()['id']}").json()["amount"] == 1000


def test_same_key_while_the_first_is_in_flight_is_409(api):
    """While the first request is still running, a retry with its key gets 409 and runs nothing."""
    server = api["payments"].server
    fault_id = server.faults.add(method="POST", path="/payments", kind="latency", delay=2.0)
    headers = {"Idempotency-Key": "pay-4"}
    first: list[requests.Response] = []
    thread = threading.Thread(
        target=lambda: first.append(
            api["payments"].post("/payments", json=PAYMENT, headers=headers)
        )
    )
    thread.start()
    _wait_for_hit(server, fault_id)
    concurrent = api["payments"].post("/payments", json=PAYMENT, headers=headers)
    thread.join()
    assert concurrent.status_code == 409
    assert concurrent.json()["type"] == "https://errors.example.com/idempotency-key-in-use"
    assert first[0].status_code == 201
    replay = api["payments"].post("/payments", json=PAYMENT, headers=headers)
    assert replay.json()["id"] == first[0].json()["id"]


def test_keys_are_scoped_by_path(api):
    """One key on two different paths means two independent operations."""
    payment = api["payments"].post("/payments", json=PAYMENT).json()
    headers = {"Idempotency-Key": "shared"}
    refund_a = api["payments"].post(
        f"/payments/{payment['id']}/refund", json={"amount": 100}, headers=headers
    )
    other_payment = api["payments"].post("/payments", json=PAYMENT, headers=headers)
    assert (refund_a.status_code, other_payment.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in other_payment.headers


def test_keys_are_scoped_by_service(api):
    """The same key on two services never collides."""
    headers = {"Idempotency-Key": "cross-service"}
    user = api["users"].post(
        "/users", json={"email": "a@example.com", "name": "A"}, headers=headers
    )
    payment = api["payments"].post("/payments", json=PAYMENT, headers=headers)
    assert (user.status_code, payment.status_code) == (201, 201)


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_not_stored(api, status):
    """After a 5xx the same key runs the operation for real (nothing was done)."""
    server = api["payments"].server
    server.faults.add(method="POST", path="/payments", kind="error", status=status)
    headers = {"Idempotency-Key": f"retry-{status}"}
    failed = api["payments"].post("/payments", json=PAYMENT, headers=headers)
    retried = api["payments"].post("/payments", json=PAYMENT, headers=headers)
    assert (failed.status_code, retried.status_code) == (status, 201)
    assert "Idempotent-Replayed" not in retried.headers


def test_rate_limited_request_is_not_stored(api):
    """A 429 is not remembered: the retry after Retry-After runs the operation."""
    api["payments"].server.faults.add(method="POST", path="/payments", kind="rate_limit")
    headers = {"Idempotency-Key": "limited"}
    limited = api["payments"].post("/payments", json=PAYMENT, headers=headers)
    retried = api["payments"].post("/payments", json=PAYMENT, headers=headers)
    assert (limited.status_code, retried.status_code) == (429, 201)


def test_validation_refusal_is_not_stored(api):
    """A request refused by validation (X-Request-ID too long) leaves the key unused."""
    headers = {"Idempotency-Key": "invalid-first"}
    refused = api["payments"].post(
        "/payments", json=PAYMENT, headers={**headers, "X-Request-ID": "x" * 201}
    )
    accepted = api["payments"].post("/payments", json=PAYMENT, headers=headers)
    assert (refused.status_code, accepted.status_code) == (422, 201)
    assert "Idempotent-Replayed" not in accepted.headers


def test_business_outcomes_are_stored(api):
    """A declined card (402) is an outcome: the retry replays it rather than charging again."""
    declined = {**PAYMENT, "payment_method": {"type": "card", "token": "tok_declined"}}
    headers = {"Idempotency-Key": "declined"}
    first = api["payments"].post("/payments", json=declined, headers=headers)
    again = api["payments"].post("/payments", json=declined, headers=headers)
    assert (first.status_code, again.status_code) == (402, 402)
    assert again.headers["Idempotent-Replayed"] == "true"


def test_cancel_replay_is_not_a_second_cancellation(api):
    """Retrying a cancel with its key replays 200; without a key it is 409 already-cancelled."""
    order = (
        api["orders"]
        .post(
            "/orders",
            json={
                "user_id": USER_ID,
                "items": [{"product_id": USER_ID, "quantity": 1, "unit_price": 100}],
                "currency": "EUR",
            },
        )
        .json()
    )
    path = f"/orders/{order['id']}/cancel"
    first = api["orders"].post(path, json={}, headers={"Idempotency-Key": "cancel-1"})
    replay = api["orders"].post(path, json={}, headers={"Idempotency-Key": "cancel-1"})
    fresh = api["orders"].post(path, json={})
    assert (first.status_code, replay.status_code, fresh.status_code) == (200, 200, 409)


def test_reset_forgets_keys(api):
    """After a reset the same key runs the operation again."""
    headers = {"Idempotency-Key": "before-reset"}
    first = api["payments"].post("/payments", json=PAYMENT, headers=headers)
    api["payments"].server.reset()
    after = api["payments"].post("/payments", json=PAYMENT, headers=headers)
    assert after.status_code == 201
    assert after.json()["id"] != first.json()["id"]


@pytest.mark.parametrize(("bad_headers", "field"), REFUSED_RETRIES)
@pytest.mark.parametrize(
    ("service", "path", "body"),
    [("users", "/users", USER), ("payments", "/payments", PAYMENT)],
    ids=["create-user", "create-payment"],
)
def test_replay_is_validated_like_a_fresh_request(api, service, path, body, bad_headers, field):
    """A retry the route refuses under a fresh key gets that same 422; the key still replays."""
    client, data = api[service], json.dumps(body)
    first = client.post(path, data=data, headers={**JSON, "Idempotency-Key": "used"})
    fresh = client.post(path, data=data, headers={**JSON, "Idempotency-Key": "new", **bad_headers})
    refused = client.post(
        path, data=data, headers={**JSON, "Idempotency-Key": "used", **bad_headers}
    )
    again = client.post(path, data=data, headers={**JSON, "Idempotency-Key": "used"})
    assert (fresh.status_code, fresh.json()["type"]) == (
        422,
        "https://errors.example.com/validation-error",
    )
    assert [error["field"] for error in fresh.json()["errors"]] == [field]
    assert (refused.status_code, refused.json()) == (fresh.status_code, fresh.json())
    assert "Idempotent-Replayed" not in refused.headers
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"


def test_replay_on_a_path_with_an_id_is_validated(api):
    """A refund retried with a bad X-Request-ID is refused like a fresh one; the refund replays."""
    payment = api["payments"].post("/payments", json=PAYMENT).json()
    path = f"/payments/{payment['id']}/refund"
    headers = {"Idempotency-Key": "refund-1"}
    first = api["payments"].post(path, json={"amount": 100}, headers=headers)
    refused = api["payments"].post(
        path, json={"amount": 100}, headers={**headers, "X-Request-ID": "bad id"}
    )
    again = api["payments"].post(path, json={"amount": 100}, headers=headers)
    assert refused.status_code == 422
    assert [error["field"] for error in refused.json()["errors"]] == ["X-Request-ID"]
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert api["payments"].get(f"/payments/{payment['id']}").json()["refunded_amount"] == 100


def test_reused_key_with_an_invalid_body_gets_the_validation_error(api):
    """The body's own fault is reported first: a refused body is not a key reuse."""
    headers = {"Idempotency-Key": "reused"}
    api["users"].post("/users", json=USER, headers=headers)
    invalid = api["users"].post("/users", json={**USER, "email": "not-an-address"}, headers=headers)
    valid = api["users"].post("/users", json={**USER, "name": "B"}, headers=headers)
    assert (invalid.status_code, invalid.json()["type"]) == (
        422,
        "https://errors.example.com/validation-error",
    )
    assert [error["field"] for error in invalid.json()["errors"]] == ["email"]
    assert (valid.status_code, valid.json()["type"]) == (
        422,
        "https://errors.example.com/idempotency-key-reused",
    )


def test_retry_while_in_flight_is_validated_first(api):
    """A retry its route refuses gets that refusal, not 409, while the first request still runs."""
    server = api["payments"].server
    fault_id = server.faults.add(method="POST", path="/payments", kind="latency", delay=1.0)
    headers = {"Idempotency-Key": "in-flight"}
    first: list[requests.Response] = []
    thread = threading.Thread(
        target=lambda: first.append(
            api["payments"].post("/payments", json=PAYMENT, headers=headers)
        )
    )
    thread.start()
    _wait_for_hit(server, fault_id)
    refused = api["payments"].post(
        "/payments", json=PAYMENT, headers={**headers, "X-Request-ID": "bad id"}
    )
    thread.join()
    assert (refused.status_code, refused.json()["type"]) == (
        422,
        "https://errors.example.com/validation-error",
    )
    assert first[0].status_code == 201
