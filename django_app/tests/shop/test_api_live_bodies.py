"""Malformed bodies thrown at the live app (manage.py runserver on a socket): every answer is a
4xx (or the 202 of a valid order) in application/problem+json, never a 5xx, never HTML.

The named cases are the ones most likely to break a parser (deep nesting, 3 MB, NaN, invalid
UTF-8); the hypothesis cases are raw bytes and JSON of any shape, nesting and number, NaN
included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.live_server import DjangoServer, django_env, manage_py

SHOP_USER_ID = "6f1d7f0e-3c1b-4a51-9f77-2f8f0b1f3c55"
PROBLEM = "application/problem+json"
NAMED = {
    "deep nesting": b"[" * 2000 + b"]" * 2000,
    "3 MB": b"x" * 3_000_000,
    "not UTF-8": b'{"items": "\xff\xfe"}',
    "NaN": b'{"items": NaN}',
    "Infinity": b'{"items": [{"quantity": -Infinity}]}',
    "wrong types": b'{"items": {}, "payment_method": [], "currency": 5}',
    "truncated": b'{"items": [{"product_id": ',
    "empty": b"",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=40,
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, requests.Session]]:
    scratch = tmp_path_factory.mktemp("live-bodies")
    # A rate limit out of the way: these requests test bodies, not the limit.
    env = django_env(SQLITE_PATH=str(scratch / "db.sqlite3"), API_RATE_LIMIT="0")
    manage_py("migrate", "-v0", env=env)
    token = manage_py("issue_api_token", "fuzz", "--shop-user-id", SHOP_USER_ID, env=env).strip()
    with DjangoServer(env, scratch / "server.log", threading=False) as server:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        yield server.url, session


def post(
    live: tuple[str, requests.Session], body: bytes, key: str, content_type: str
) -> requests.Response:
    url, session = live
    return session.post(
        f"{url}/api/orders",
        data=body,
        headers={"Content-Type": content_type, "Idempotency-Key": key},
        timeout=30,
    )


def assert_answered_as_a_problem(response: requests.Response) -> None:
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        assert response.headers["Content-Type"] == PROBLEM, response.text[:500]
        assert response.json()["status"] == response.status_code


@pytest.mark.parametrize("name", NAMED)
def test_named_malformed_bodies_are_4xx_problems(live, name):
    response = post(live, NAMED[name], f"named-{name}", "application/json")
    assert 400 <= response.status_code < 500
    assert_answered_as_a_problem(response)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v, allow_nan=True).encode())
    | st.integers(1, 3000).map(lambda depth: b'{"items": ' + b"[" * depth + b"]" * depth + b"}"),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
            "application/problem+json",
        ]
    ),
    key=st.uuids().map(str),
)
def test_any_raw_body_gets_a_problem_never_a_500(live, body, content_type, key):
    assert_answered_as_a_problem(post(live, body, key, content_type))
