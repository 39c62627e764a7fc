"""Bearer auth, problem+json errors and X-Request-ID, over real sockets."""

from __future__ import annotations

import uuid

import pytest
import requests

USER = {"email": "ada@example.com", "name": "Ada"}
MISSING_ID = "4b0e8bd5-2a8e-4f67-8c59-0b2a0b0d6d1e"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/users/{MISSING_ID}"),
        ("POST", "/users"),
        ("GET", "/users/search?q=a"),
        ("POST", "/__control/reset"),
        ("DELETE", "/__control/faults"),
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
        ("GET", "/no/such/path"),
    ],
)
def test_every_path_answers_401_problem_without_a_token(api, method, path):
    """Service routes, control plane, docs and unknown paths all refuse an anonymous caller."""
    response = requests.request(method, api["users"].url + path, json=USER, timeout=10)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["type"] == "https://errors.example.com/unauthorized"


def test_wrong_token_is_401_with_invalid_token_challenge(api):
    """A wrong bearer token gets the RFC 6750 invalid_token challenge and nothing is created."""
    response = requests.post(
        api["users"].url + "/users",
        json=USER,
        headers={"Authorization": "Bearer not-the-token"},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert api["users"].get("/users/search", params={"q": "ada"}).json()["count"] == 0


def test_other_auth_schemes_are_refused(api, stub_token):
    """The token under another scheme (Basic, Token) is not accepted."""
    response = requests.get(
        api["users"].url + "/users/search?q=a",
        headers={"Authorization": f"Token {stub_token}"},
        timeout=10,
    )
    assert response.status_code == 401


def test_docs_routes_are_not_served_even_with_the_token(api):
    """The contract is the documentation: /docs, /redoc and /openapi.json do not exist."""
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert api["users"].get(path).status_code == 404


def test_request_id_is_echoed_on_success_and_error(api):
    """X-Request-ID comes back unchanged, on 2xx and on problem responses alike."""
    ok = api["users"].post("/users", json=USER, headers={"X-Request-ID": "req-1"})
    missing = api["users"].get(f"/users/{MISSING_ID}", headers={"X-Request-ID": "req-2"})
    assert (ok.status_code, ok.headers["X-Request-ID"]) == (201, "req-1")
    assert (missing.status_code, missing.headers["X-Request-ID"]) == (404, "req-2")


def test_request_id_is_minted_when_absent(api):
    """Without X-Request-ID the response carries a fresh UUID, different per request."""
    first = api["users"].get("/users/search", params={"q": "a"}).headers["X-Request-ID"]
    second = api["users"].get("/users/search", params={"q": "a"}).headers["X-Request-ID"]
    assert str(uuid.UUID(first)) == first
    assert first != second


def test_request_id_on_a_401(api):
    """Even the refusal of an anonymous caller echoes the request id."""
    response = requests.get(
        api["users"].url + "/users/search?q=a", headers={"X-Request-ID": "anon-1"}, timeout=10
    )
    assert response.headers["X-Request-ID"] == "anon-1"


def test_malformed_json_is_400_problem(api):
    """A body that is not JSON is a 400 malformed-body problem."""
    response = api["users"].post(
        "/users", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "https://errors.example.com/malformed-body"


def test_validation_errors_are_422_with_one_entry_per_field(api):
    """Invalid fields come back as errors[{field, message}], nested fields as dotted paths."""
    response = api["orders"].post(
        "/orders",
        json={
            "user_id": "nope",
            "items": [{"product_id": MISSING_ID, "quantity": 0, "unit_price": 1}],
            "currency": "eur",
            "extra": 1,
        },
    )
    body = response.json()
    assert response.status_code == 422
    assert body["type"] == "https://errors.example.com/validation-error"
    assert body["instance"] == "/orders"
    assert {error["field"] for error in body["errors"]} == {
        "user_id",
        "items.0.quantity",
        "currency",
        "extra",
    }


def test_strings_are_not_coerced_to_integers(api):
    """quantity "2" is a 422, while 2.0 counts as the integer 2 (as in JSON Schema)."""
    product = "00000000-0000-4000-8000-000000000001"
    as_string = api["inventory"].post(
        "/reservations", json={"product_id": product, "quantity": "2"}
    )
    as_float = api["inventory"].post("/reservations", json={"product_id": product, "quantity": 2.0})
    assert as_string.status_code == 422
    assert (as_float.status_code, as_float.json()["quantity"]) == (201, 2)


def test_malformed_id_in_path_is_404(api):
    """An id that is not a UUID names no resource: 404 problem."""
    response = api["users"].get("/users/not-a-uuid")
    assert response.status_code == 404
    assert response.json()["type"] == "https://errors.example.com/not-found"


def test_unsupported_method_is_405_listing_every_allowed_method(api):
    """405 carries an Allow header with all methods of the path, not just the first route's."""
    response = api["users"].request("DELETE", f"/users/{MISSING_ID}")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "PUT"}
    assert response.headers["Content-Type"] == "application/problem+json"


def test_search_is_its_own_resource(api):
    """PUT /users/search is a 405 (GET only), not an update of a user with id "search"."""
    response = api["users"].put("/users/search", json=USER)
    assert (response.status_code, response.headers["Allow"]) == (405, "GET")


# An operation of each service that would answer 200 or 404 to a good request.
READS = {
    "users": "/users/search?q=a",
    "orders": f"/orders/{uuid.UUID(int=1)}",
    "payments": f"/payments/{uuid.UUID(int=1)}",
    "inventory": "/products/00000000-0000-4000-8000-000000000001",
}


@pytest.mark.parametrize("service", sorted(READS))
@pytest.mark.parametrize("bad", ["req 1", "caf\u00e9"])
def test_a_request_id_outside_the_pattern_is_a_422_with_a_minted_id(api, service, bad):
    """What the contracts' RequestId parameter says: a value that is not printable ASCII
    without spaces is refused (422 validation-error) and the answer carries a minted UUID."""
    response = api[service].get(READS[service], headers={"X-Request-ID": bad.encode("latin-1")})
    minted = response.headers["X-Request-ID"]
    assert response.status_code == 422
    assert response.json()["type"] == "https://errors.example.com/validation-error"
    assert str(uuid.UUID(minted)) == minted
