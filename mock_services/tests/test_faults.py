"""Fault injection through the control plane, observed by a real HTTP client."""

from __future__ import annotations

import jsonschema
import pytest
import requests

from mock_services.contract_rules import CONTRACTS_DIR, load
from mock_services.testing import StubServer

USER = {"email": "ada@example.com", "name": "Ada"}


def _users_named_ada(api) -> int:
    return int(api["users"].get("/users/search", params={"q": "ada@example.com"}).json()["count"])


def test_drop_closes_the_connection_without_a_response_and_does_nothing(api):
    """drop: the client sees the connection closed before any response; no user is created."""
    api["users"].server.faults.add(method="POST", path="/users", kind="drop")
    with pytest.raises(requests.ConnectionError) as raised:
        api["users"].post("/users", json=USER)
    # closed before the status line: a reset instead when the close beats the request's last bytes
    closed = ("RemoteDisconnected", "ConnectionResetError")
    assert any(name in repr(raised.value) for name in closed), repr(raised.value)
    assert _users_named_ada(api) == 0


def test_lost_response_applies_the_effect_then_drops(api):
    """lost_response: the connection drops, yet the user was created."""
    api["users"].server.faults.add(method="POST", path="/users", kind="lost_response")
    with pytest.raises(requests.ConnectionError):
        api["users"].post("/users", json=USER)
    assert _users_named_ada(api) == 1


def test_lost_response_then_retry_with_the_key_gets_the_stored_response(api):
    """The case idempotency keys exist for: the retry replays the 201 instead of a 409."""
    api["users"].server.faults.add(method="POST", path="/users", kind="lost_response")
    headers = {"Idempotency-Key": "lost-1"}
    with pytest.raises(requests.ConnectionError):
        api["users"].post("/users", json=USER, headers=headers)
    retry = api["users"].post("/users", json=USER, headers=headers)
    assert (retry.status_code, retry.headers["Idempotent-Replayed"]) == (201, "true")
    assert _users_named_ada(api) == 1


def test_stub_keeps_serving_after_a_drop(api):
    """A dropped connection does not break the server: the next request is answered."""
    api["users"].server.faults.add(method="GET", path="/users/search", kind="drop")
    with pytest.raises(requests.ConnectionError):
        api["users"].get("/users/search", params={"q": "a"})
    assert api["users"].get("/users/search", params={"q": "a"}).status_code == 200


def test_error_fault_answers_the_status_as_problem(api):
    """error: the given status as problem+json, with Retry-After when asked; nothing done."""
    api["users"].server.faults.add(
        method="POST", path="/users", kind="error", status=503, retry_after=7
    )
    response = api["users"].post("/users", json=USER)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "https://errors.example.com/service-unavailable"
    assert _users_named_ada(api) == 0


def test_error_fault_defaults_to_500(api):
    """Without a status the injected error is a 500."""
    api["users"].server.faults.add(method="GET", path="/users/search", kind="error")
    assert api["users"].get("/users/search", params={"q": "a"}).status_code == 500


def test_rate_limit_fault_is_429_with_retry_after(api):
    """rate_limit: 429 problem with Retry-After (default 1 second)."""
    api["users"].server.faults.add(method="GET", path="/users/search", kind="rate_limit")
    response = api["users"].get("/users/search", params={"q": "a"})
    assert (response.status_code, response.headers["Retry-After"]) == (429, "1")
    assert response.json()["type"] == "https://errors.example.com/rate-limited"


def test_latency_fault_makes_a_short_client_timeout_expire(api):
    """latency: a client with a read timeout shorter than the delay times out."""
    api["users"].server.faults.add(method="GET", path="/users/search", kind="latency", delay=1.5)
    with pytest.raises(requests.ReadTimeout):
        api["users"].get("/users/search", params={"q": "a"}, timeout=0.2)


def test_latency_fault_still_answers_normally(api):
    """latency: after the delay the real response arrives."""
    api["users"].server.faults.add(method="GET", path="/users/search", kind="latency", delay=0.1)
    response = api["users"].get("/users/search", params={"q": "a"})
    assert response.json() == {"items": [], "count": 0}


def test_malformed_fault_returns_2xx_violating_the_contract(api):
    """malformed: a 2xx JSON body that fails the contract's response schema."""
    user = api["users"].post("/users", json=USER).json()
    api["users"].server.faults.add(method="GET", path="/users/{user_id}", kind="malformed")
    response = api["users"].get(f"/users/{user['id']}")
    contract = load(CONTRACTS_DIR / "users.yaml")
    schema = {**contract["components"]["schemas"]["User"], "components": contract["components"]}
    assert response.status_code == 200
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    assert not validator.is_valid(response.json())


def test_fault_applies_times_then_stops(api):
    """times=2: two requests fail, the third succeeds."""
    api["users"].server.faults.add(method="GET", path="/users/search", kind="error", times=2)
    statuses = [api["users"].get("/users/search", params={"q": "a"}).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]


def test_times_zero_lasts_until_cleared(api):
    """times=0: every request fails until the faults are cleared."""
    server = api["users"].server
    server.faults.add(method="*", path="*", kind="error", status=502, times=0)
    statuses = [api["users"].get("/users/search", params={"q": "a"}).status_code for _ in range(4)]
    server.faults.clear()
    assert statuses == [502] * 4
    assert api["users"].get("/users/search", params={"q": "a"}).status_code == 200


def test_fault_matches_method_and_route_template(api):
    """A fault on GET /users/{user_id} leaves PUT on that path and other routes alone."""
    user = api["users"].post("/users", json=USER).json()
    api["users"].server.faults.add(method="GET", path="/users/{user_id}", kind="error", times=0)
    assert api["users"].get("/users/search", params={"q": "a"}).status_code == 200
    update = api["users"].put(f"/users/{user['id']}", json={**USER, "is_active": False})
    assert update.status_code == 200
    assert api["users"].get(f"/users/{user['id']}").status_code == 500


def test_scoped_fault_only_hits_requests_with_its_scope(api):
    """A fault with a scope applies only to requests carrying X-Test-Scope: <scope>."""
    api["users"].server.faults.add(
        method="GET", path="/users/search", kind="error", times=0, scope="test-a"
    )
    plain = api["users"].get("/users/search", params={"q": "a"})
    other = api["users"].get("/users/search", params={"q": "a"}, headers={"X-Test-Scope": "b"})
    mine = api["users"].get("/users/search", params={"q": "a"}, headers={"X-Test-Scope": "test-a"})
    assert (plain.status_code, other.status_code, mine.status_code) == (200, 200, 500)


def test_faults_are_listed_with_remaining_and_hits(api):
    """GET /__control/faults shows each fault's remaining count and hits."""
    server = api["users"].server
    fault_id = server.faults.add(method="GET", path="/users/search", kind="error", times=2)
    api["users"].get("/users/search", params={"q": "a"})
    (listed,) = server.faults.list()
    assert (listed["id"], listed["remaining"], listed["hits"]) == (fault_id, 1, 1)


def test_unknown_route_template_is_refused(api):
    """A fault for a path the service does not serve is a 422, not a silent no-op."""
    with pytest.raises(requests.HTTPError) as raised:
        api["users"].server.faults.add(method="GET", path="/nope/{id}", kind="error")
    assert raised.value.response.status_code == 422


def test_fault_status_must_fit_its_kind(api):
    """error needs a 4xx/5xx status, malformed a 2xx one."""
    for kind, status in (("error", 200), ("malformed", 500), ("drop", 500)):
        with pytest.raises(requests.HTTPError):
            api["users"].server.faults.add(method="*", path="*", kind=kind, status=status)


def test_faults_do_not_apply_to_anonymous_requests(api):
    """Auth comes first: an anonymous caller gets 401, and the fault stays unused."""
    server = api["users"].server
    server.faults.add(method="GET", path="/users/search", kind="error")
    anonymous = requests.get(server.url + "/users/search?q=a", timeout=10)
    assert anonymous.status_code == 401
    assert server.faults.list()[0]["hits"] == 0


def test_reset_clears_faults_and_data(api):
    """POST /__control/reset: no faults, no users, products back to their seed."""
    api["users"].post("/users", json=USER)
    api["users"].server.faults.add(method="*", path="*", kind="error", times=0)
    api["users"].server.reset()
    assert api["users"].server.faults.list() == []
    assert _users_named_ada(api) == 0


def test_stub_server_reports_its_url_and_stops(stub_token):
    """StubServer binds a free port on 127.0.0.1 and refuses connections after stop()."""
    with StubServer("users", stub_token) as server:
        url = server.url
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(url + "/users/search?q=a", timeout=5).status_code == 401
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/users/search?q=a", timeout=5)
    assert "(stopped)" in repr(server)
