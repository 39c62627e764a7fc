"""Request ids: the middleware binds and echoes them; clients reuse them or make fresh ones."""

from __future__ import annotations

import logging

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client, override_settings

from django_interlink.request_id import (
    RequestIDLogFilter,
    bind_request_id,
    current_request_id,
    is_well_formed,
    request_id_for_call,
)

pytestmark = pytest.mark.urls("tests.clients.urls")


def test_middleware_makes_an_id_and_echoes_it():
    """Without an incoming X-Request-ID the response carries a new one, bound during the view."""
    response = Client().get("/whoami/")
    assert response.status_code == 200
    echoed = response.headers["X-Request-ID"]
    assert is_well_formed(echoed)
    assert response.json() == {"bound": echoed}


def test_middleware_reuses_a_well_formed_incoming_id():
    """A well-formed incoming X-Request-ID is the id of the whole request."""
    response = Client().get("/whoami/", headers={"X-Request-ID": "req-abc.123:x"})
    assert response.headers["X-Request-ID"] == "req-abc.123:x"
    assert response.json() == {"bound": "req-abc.123:x"}


@pytest.mark.parametrize("incoming", ["has space", "x" * 129, "-leading-dash", "ünï", ""])
def test_middleware_replaces_a_malformed_incoming_id(incoming):
    """Ids with spaces, non-ASCII or >128 chars are not trusted: a fresh one replaces them."""
    response = Client().get("/whoami/", headers={"X-Request-ID": incoming})
    echoed = response.headers["X-Request-ID"]
    assert echoed != incoming
    assert is_well_formed(echoed)
    assert response.json() == {"bound": echoed}


def test_async_views_get_the_id_too():
    """Under an async view (async middleware path) the incoming id is bound and echoed."""
    response = async_to_sync(AsyncClient().get)(
        "/async-whoami/", headers={"X-Request-ID": "async-1"}
    )
    assert response.headers["X-Request-ID"] == "async-1"
    assert response.json() == {"bound": "async-1"}


def test_id_is_unbound_after_the_request():
    """Nothing leaks past the request: outside it no id is bound."""
    Client().get("/whoami/", headers={"X-Request-ID": "leak-check"})
    assert current_request_id() is None


def test_calls_outside_a_request_get_a_fresh_id_each():
    """Without a bound id every outgoing call gets its own new id."""
    assert request_id_for_call() != request_id_for_call()


def test_bind_request_id_scopes_the_id():
    """bind_request_id binds for the block (consumers, commands) and restores after."""
    with bind_request_id("job-7") as bound:
        assert bound == "job-7"
        assert request_id_for_call() == "job-7"
    assert current_request_id() is None


@override_settings(MIDDLEWARE=[])
def test_without_middleware_no_id_is_bound():
    """The binding comes from the middleware (and nothing else)."""
    response = Client().get("/whoami/")
    assert response.json() == {"bound": None}
    assert "X-Request-ID" not in response.headers


def test_inbound_request_id_reaches_the_stub(services_settings):
    """A view's outgoing call carries the inbound X-Request-ID; the stub echoes that same id."""
    response = Client().get("/search/", headers={"X-Request-ID": "inbound-7f3a"})
    assert response.status_code == 200
    assert response.json() == {
        "bound": "inbound-7f3a",
        "echoed_by_stub": "inbound-7f3a",
        "request_id": "inbound-7f3a",
    }
    assert response.headers["X-Request-ID"] == "inbound-7f3a"


def test_generated_request_id_is_the_one_sent_to_the_stub(services_settings):
    """Without an incoming id, the id made by the middleware is the one the stub receives."""
    response = Client().get("/search/")
    body = response.json()
    assert body["echoed_by_stub"] == response.headers["X-Request-ID"] == body["bound"]


def test_client_call_outside_a_request_sends_its_own_id(services_settings, users_client):
    """Outside a request each call sends a fresh id, which the stub echoes."""
    first = users_client.get("/users/search", operation="searchUsers", params={"q": "x"})
    second = users_client.get("/users/search", operation="searchUsers", params={"q": "x"})
    assert is_well_formed(first.request_id)
    assert first.request_id != second.request_id


def test_log_filter_stamps_the_bound_request_id():
    """RequestIDLogFilter gives every record the bound id (or '-'), for %(request_id)s."""
    log_filter = RequestIDLogFilter()
    outside = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    log_filter.filter(outside)
    with bind_request_id("req-9"):
        inside = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
        log_filter.filter(inside)
    assert (outside.__dict__["request_id"], inside.__dict__["request_id"]) == ("-", "req-9")
