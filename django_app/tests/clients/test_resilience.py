"""Retries, Retry-After, idempotent POSTs, timeouts and refused connections, on real sockets.

Faults are injected through the stubs' control plane; what happened is read back from the
stub (fault hit counts, resulting state) and from the client's call/retry log records.
"""

from __future__ import annotations

import email.utils
import logging
import socket
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.test import override_settings

from django_interlink.clients.base import ServiceClient
from django_interlink.clients.testing import FAST_RETRY, services_settings_for
from django_interlink.clients.transport import IdempotencyAwareAdapter, ServiceRetry, transmit
from django_interlink.exceptions import (
    ServiceConnectionError,
    ServiceError,
    ServiceTimeoutError,
    ServiceUnavailable,
)
from shop.clients.users import UserServiceClient

from .scripted import Reply

pytestmark = pytest.mark.usefixtures("reset_stubs")

WIDGET = "00000000-0000-4000-8000-000000000001"  # seeded by the inventory stub
USER_PATH = "/users/{user_id}"


def _email() -> str:
    return f"r{uuid.uuid4().hex[:10]}@example.com"


def _fault(stub, fault_id):
    return next(f for f in stub.faults.list() if f["id"] == fault_id)


def _settings_with(services_settings, **service_overrides):
    conf = {**services_settings, "SERVICES": {}}
    for name, entry in services_settings["SERVICES"].items():
        retry = {**entry["RETRY"], **service_overrides.pop("RETRY", {})}
        conf["SERVICES"][name] = {**entry, **service_overrides, "RETRY": retry}
    return conf


def test_503_is_retried_then_succeeds(stubs, users_client, client_log):
    """One 503, then success: the caller gets the user; the stub saw the faulted attempt."""
    user = users_client.create_user(email=_email(), name="Ada")
    fault = stubs["users"].faults.add(method="GET", path=USER_PATH, kind="error", status=503)
    assert users_client.get_user(user_id=user["id"]) == user
    assert _fault(stubs["users"], fault)["hits"] == 1
    (call,) = [r for r in client_log() if r.operation == "getUser"]
    assert (call.status, call.attempts) == (200, 2)
    assert [r.status for r in client_log("retry")] == [503]


def test_retries_run_out_into_service_unavailable(stubs, users_client):
    """A service that keeps answering 503 yields ServiceUnavailable after TOTAL retries."""
    user = users_client.create_user(email=_email(), name="Ada")
    fault = stubs["users"].faults.add(
        method="GET", path=USER_PATH, kind="error", status=503, times=0
    )
    with pytest.raises(ServiceUnavailable) as info:
        users_client.get_user(user_id=user["id"])
    assert info.value.status_code == 503
    assert info.value.problem["status"] == 503
    assert _fault(stubs["users"], fault)["hits"] == 1 + 3  # first try + RETRY TOTAL


def test_retry_after_is_waited_for_then_retried(stubs, users_client, client_log):
    """A 429 with Retry-After: 1 is retried after waiting the 1 s asked (not the backoff)."""
    user = users_client.create_user(email=_email(), name="Ada")
    fault = stubs["users"].faults.add(
        method="GET", path=USER_PATH, kind="rate_limit", retry_after=1
    )
    assert users_client.get_user(user_id=user["id"])["id"] == user["id"]
    assert _fault(stubs["users"], fault)["hits"] == 1
    (retry,) = client_log("retry")
    assert (retry.status, retry.wait_s, retry.retry_after) == (429, 1.0, True)
    # What the stub saw, not what the client says it did: the retry came 1 s after the 429.
    first, second = stubs["users"].requests(method="GET", path=f"/users/{user['id']}")
    assert second["received_at"] - first["received_at"] >= 1.0


def test_retry_after_beyond_the_cap_is_not_retried(stubs, users_client):
    """Retry-After longer than RETRY_AFTER_MAX: no early retry, a typed error with retry_after."""
    user = users_client.create_user(email=_email(), name="Ada")
    fault = stubs["users"].faults.add(
        method="GET", path=USER_PATH, kind="rate_limit", retry_after=30, times=2
    )
    with pytest.raises(ServiceUnavailable) as info:
        users_client.get_user(user_id=user["id"])
    assert (info.value.status_code, info.value.retry_after) == (429, 30.0)
    state = _fault(stubs["users"], fault)
    assert (state["hits"], state["remaining"]) == (1, 1)


def test_post_without_idempotency_key_is_not_retried_on_503(stubs, services_settings):
    """A POST without Idempotency-Key meets a 503 once and fails: it is never re-sent."""
    fault = stubs["users"].faults.add(
        method="POST", path="/users", kind="error", status=503, times=2
    )
    email = _email()
    with ServiceClient("users") as raw, pytest.raises(ServiceUnavailable):
        raw.post("/users", operation="createUser", json={"email": email, "name": "A"})
    assert _fault(stubs["users"], fault)["hits"] == 1


def test_post_without_idempotency_key_is_not_retried_after_a_drop(stubs, services_settings):
    """A dropped connection on a key-less POST is a ServiceConnectionError, not a retry."""
    fault = stubs["users"].faults.add(method="POST", path="/users", kind="drop", times=2)
    with ServiceClient("users") as raw, pytest.raises(ServiceConnectionError) as info:
        raw.post("/users", operation="createUser", json={"email": _email(), "name": "A"})
    assert isinstance(info.value, ConnectionError)
    assert _fault(stubs["users"], fault)["hits"] == 1


def test_lost_response_on_a_keyless_post_leaves_the_outcome_unknown(
    stubs, services_settings, users_client
):
    """Without a key the lost response is an error although the user was created."""
    stubs["users"].faults.add(method="POST", path="/users", kind="lost_response")
    email = _email()
    with ServiceClient("users") as raw, pytest.raises(ServiceConnectionError):
        raw.post("/users", operation="createUser", json={"email": email, "name": "A"})
    assert users_client.search_users(q=email)["count"] == 1


def test_post_with_key_is_retried_after_lost_response_and_applies_once(stubs, users_client):
    """Response lost after the user was created: the keyed retry replays it; one user exists."""
    fault = stubs["users"].faults.add(method="POST", path="/users", kind="lost_response")
    email = _email()
    with ServiceClient("users") as raw:
        response = raw.post(
            "/users",
            operation="createUser",
            json={"email": email, "name": "A"},
            idempotency_key=str(uuid.uuid4()),
        )
    assert (response.status_code, response.attempts, response.replayed) == (201, 2, True)
    assert _fault(stubs["users"], fault)["hits"] == 1
    assert users_client.search_users(q=email)["items"] == [response.data]


def test_reservation_retried_after_lost_response_reserves_once(stubs, inventory_client):
    """reserve_item (keyed by default) survives a lost response and holds the units once."""
    stubs["inventory"].faults.add(method="POST", path="/reservations", kind="lost_response")
    before = inventory_client.get_stock(product_id=WIDGET)
    reservation = inventory_client.reserve_item(product_id=WIDGET, quantity=3)
    after = inventory_client.get_stock(product_id=WIDGET)
    assert reservation["quantity"] == 3
    assert after["reserved"] - before["reserved"] == 3
    assert inventory_client.get_reservation(reservation_id=reservation["id"]) == reservation


def test_slow_service_is_a_timeout_error(stubs, services_settings):
    """Responses slower than TIMEOUT raise ServiceTimeoutError (a TimeoutError), after retries."""
    with override_settings(
        INTERLINK=_settings_with(services_settings, TIMEOUT=0.2, RETRY={"TOTAL": 1})
    ):
        client = UserServiceClient()
    user = client.create_user(email=_email(), name="Ada")
    fault = stubs["users"].faults.add(
        method="GET", path=USER_PATH, kind="latency", delay=1.0, times=0
    )
    with pytest.raises(ServiceTimeoutError) as info:
        client.get_user(user_id=user["id"])
    client.close()
    assert isinstance(info.value, TimeoutError)
    assert (info.value.service, info.value.operation) == ("users", "getUser")
    assert _fault(stubs["users"], fault)["hits"] == 2  # first try + one retry


def test_slow_keyless_post_times_out_without_retry(stubs, services_settings):
    """A key-less POST that times out is not re-sent."""
    fault = stubs["users"].faults.add(
        method="POST", path="/users", kind="latency", delay=1.0, times=0
    )
    with override_settings(INTERLINK=_settings_with(services_settings, TIMEOUT=0.2)):
        raw = ServiceClient("users")
    with raw, pytest.raises(ServiceTimeoutError):
        raw.post("/users", operation="createUser", json={"email": _email(), "name": "A"})
    assert _fault(stubs["users"], fault)["hits"] == 1


def test_connection_refused_is_a_connection_error(stub_token):
    """Nobody listening: ServiceConnectionError (a ConnectionError), raised from the cause."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conf = services_settings_for({"users": f"http://127.0.0.1:{port}"}, stub_token)
    with (
        override_settings(INTERLINK=conf),
        UserServiceClient() as client,
        pytest.raises(ServiceConnectionError) as info,
    ):
        client.get_user(user_id=str(uuid.uuid4()))
    assert isinstance(info.value, ConnectionError)
    assert isinstance(info.value, ServiceError)
    assert info.value.__cause__ is not None


def test_every_call_is_logged_once_without_the_token(
    stubs, stub_token, users_client, client_log, caplog
):
    """One record per call with service, operation, method, path, status, duration, request id;
    the bearer token appears in no log output."""
    user = users_client.create_user(email=_email(), name="Ada")
    (record,) = client_log()
    assert (record.service, record.operation, record.method, record.path, record.status) == (
        "users",
        "createUser",
        "POST",
        "/users",
        201,
    )
    assert record.duration_ms > 0
    assert record.request_id
    assert user["id"]
    assert stub_token not in caplog.text
    assert all(stub_token not in str(vars(r)) for r in caplog.records)


def test_connect_timeout_is_a_connection_error(unanswered_port, stub_token):
    """A connect that times out never sent the request: ServiceConnectionError, not a timeout."""
    conf = services_settings_for(
        {"users": f"http://127.0.0.1:{unanswered_port}"}, stub_token, retry={"TOTAL": 1}
    )
    conf["SERVICES"]["users"]["CONNECT_TIMEOUT"] = 0.2
    with (
        override_settings(INTERLINK=conf),
        UserServiceClient() as client,
        pytest.raises(ServiceConnectionError) as info,
    ):
        client.get_user(user_id=str(uuid.uuid4()))
    assert not isinstance(info.value, ServiceTimeoutError)
    assert "timed out" in str(info.value)


def test_get_survives_a_dropped_connection(stubs, users_client, client_log):
    """A GET whose connection is dropped without an answer is safe to resend, and is."""
    user = users_client.create_user(email=_email(), name="Ada")
    fault = stubs["users"].faults.add(method="GET", path=USER_PATH, kind="drop")
    assert users_client.get_user(user_id=user["id"]) == user
    assert _fault(stubs["users"], fault)["hits"] == 1
    assert [r.attempts for r in client_log() if r.operation == "getUser"] == [2]


def test_put_is_retried_on_503(stubs, users_client):
    """PUT is idempotent: a 503 is retried and the update lands."""
    user = users_client.create_user(email=_email(), name="Old")
    fault = stubs["users"].faults.add(method="PUT", path=USER_PATH, kind="error", status=503)
    updated = users_client.update_user(
        user_id=user["id"], email=user["email"], name="New", is_active=True
    )
    assert updated["name"] == "New"
    assert _fault(stubs["users"], fault)["hits"] == 1


def test_retry_after_at_the_cap_is_waited_for(stubs, services_settings):
    """A Retry-After equal to RETRY_AFTER_MAX is within the cap: waited for, then retried."""
    conf = _settings_with(services_settings, RETRY={"RETRY_AFTER_MAX": 1.0})
    with override_settings(INTERLINK=conf):
        client = UserServiceClient()
    user = client.create_user(email=_email(), name="Ada")
    fault = stubs["users"].faults.add(
        method="GET", path=USER_PATH, kind="rate_limit", retry_after=1
    )
    with client:
        assert client.get_user(user_id=user["id"])["id"] == user["id"]
    assert _fault(stubs["users"], fault)["hits"] == 1


def test_the_backoff_is_capped_at_backoff_max(stubs, services_settings, client_log):
    """Between retries the wait doubles from BACKOFF_FACTOR up to BACKOFF_MAX, no further."""
    conf = _settings_with(services_settings, RETRY={"BACKOFF_FACTOR": 1.0, "BACKOFF_MAX": 0.01})
    with override_settings(INTERLINK=conf):
        client = UserServiceClient()
    user = client.create_user(email=_email(), name="Ada")
    stubs["users"].faults.add(method="GET", path=USER_PATH, kind="error", status=503, times=2)
    with client:
        assert client.get_user(user_id=user["id"])["id"] == user["id"]
    # No wait before the first retry; 1 s before the second, capped to 0.01 s.
    assert [r.wait_s for r in client_log("retry")] == [0.0, 0.01]


def _connections_to(caplog, port: int) -> int:
    """The TCP connections urllib3 started to `port` (it logs each one at DEBUG)."""
    return sum(
        1
        for r in caplog.records
        if r.name == "urllib3.connectionpool"
        and r.msg.startswith("Starting new HTTP connection")
        and r.args[2] == port
    )


def test_a_keyless_post_meets_a_refused_connection_once(closed_port, stub_token, caplog):
    """Refused connections are retried for a call that may be re-sent, but a POST without a
    key goes through the single-shot pool: one connection attempt, then the error."""
    port = closed_port
    conf = services_settings_for({"users": f"http://127.0.0.1:{port}"}, stub_token)
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    body = {"email": _email(), "name": "A"}
    with override_settings(INTERLINK=conf), ServiceClient("users") as raw:
        with pytest.raises(ServiceConnectionError):
            raw.post("/users", operation="createUser", json=body)
        keyless = _connections_to(caplog, port)
        with pytest.raises(ServiceConnectionError):
            raw.post("/users", operation="createUser", json=body, idempotency_key="k-1")
    assert (keyless, _connections_to(caplog, port) - keyless) == (1, 1 + 3)


@pytest.mark.parametrize("method", ["DELETE", "HEAD", "OPTIONS"])
def test_delete_head_and_options_are_retried_on_503(scripted, scripted_client, method):
    """Like GET and PUT, these are safe to repeat: a 503 is retried and the call succeeds."""
    scripted.script(method, "/things/1", Reply(503), Reply(204))
    response = scripted_client.request(method, "/things/1", operation="thing")
    assert (response.status_code, scripted.hits(method, "/things/1")) == (204, 2)


def test_a_patch_is_retried_only_with_an_idempotency_key(scripted, scripted_client):
    """A PATCH follows the POST rule: sent once without a key, retried with one."""
    scripted.script("PATCH", "/things/1", Reply(503), Reply(204))
    with pytest.raises(ServiceUnavailable):
        scripted_client.request("PATCH", "/things/1", operation="patch", json_body={"a": 1})
    assert scripted.hits("PATCH", "/things/1") == 1
    scripted.script("PATCH", "/things/1", Reply(503), Reply(204))
    response = scripted_client.request(
        "PATCH", "/things/1", operation="patch", json_body={"a": 1}, idempotency_key="k-2"
    )
    assert (response.status_code, scripted.hits("PATCH", "/things/1")) == (204, 1 + 2)


def test_a_redirect_is_handed_back_not_followed(scripted, scripted_client):
    """Following a 3xx would re-send the call somewhere the caller never chose (a POST turned
    into a GET, to another host): the caller gets the redirect itself."""
    scripted.script("GET", "/old", Reply(302, {"Location": "/new"}))
    scripted.script("GET", "/new", Reply(204))
    response = scripted_client.get("/old", operation="old")
    assert (response.status_code, response.headers["Location"]) == (302, "/new")
    assert scripted.hits("GET", "/new") == 0


def _http_date(delta: timedelta) -> str:
    return email.utils.format_datetime(datetime.now(UTC) + delta, usegmt=True)


def test_retry_after_as_a_date_beyond_the_cap_is_not_retried(scripted, scripted_client):
    """A Retry-After HTTP-date an hour away is past RETRY_AFTER_MAX: the 503 is returned."""
    scripted.script("GET", "/x", Reply(503, {"Retry-After": _http_date(timedelta(hours=1))}))
    with pytest.raises(ServiceUnavailable):
        scripted_client.get("/x", operation="x")
    assert scripted.hits("GET", "/x") == 1


def test_retry_after_as_a_date_already_past_is_retried(scripted, scripted_client, client_log):
    """A Retry-After HTTP-date already past asks no wait: retried after the backoff."""
    past = _http_date(timedelta(hours=-1))
    scripted.script("GET", "/x", Reply(503, {"Retry-After": past}), Reply(204))
    assert scripted_client.get("/x", operation="x").status_code == 204
    assert scripted.hits("GET", "/x") == 2
    assert [(r.wait_s, r.retry_after) for r in client_log("retry")] == [(0.0, True)]


def test_an_unparsable_retry_after_falls_back_to_the_backoff(scripted, scripted_client, client_log):
    """Retry-After that is neither seconds nor a date is no reason to give up: the 503 is
    retried after the ordinary backoff (0, then 2 x BACKOFF_FACTOR 0.001 s)."""
    soon = Reply(503, {"Retry-After": "soon"})
    scripted.script("GET", "/x", soon, soon, Reply(204))
    assert scripted_client.get("/x", operation="x").status_code == 204
    assert scripted.hits("GET", "/x") == 3
    assert [r.wait_s for r in client_log("retry")] == [0.0, 0.002]


def test_the_retry_policy_works_outside_a_client_call(scripted, client_log):
    """A session built on the transport alone (no client call naming it) retries all the same;
    its retries are logged without a service name."""
    scripted.script("GET", "/x", Reply(503), Reply(204))
    session = requests.Session()
    session.mount(
        "http://",
        IdempotencyAwareAdapter(
            ServiceRetry.from_settings(FAST_RETRY | {"STATUS_FORCELIST": [503]})
        ),
    )
    prepared = requests.Request("GET", f"{scripted.url}/x").prepare()
    with session:
        response = transmit(session, prepared, timeout=(1.0, 1.0), service="s", operation="getX")
    assert (response.status_code, scripted.hits("GET", "/x")) == (204, 2)
    assert [(r.service, r.status) for r in client_log("retry")] == [(None, 503)]
