"""The contract middleware: a response the contract forbids, or an exception, becomes a logged
500 problem; paths outside the prefix are left alone."""

from __future__ import annotations

import logging

import pytest

from django_interlink.api.problems import PROBLEM_JSON
from shop.api import services
from tests.shop.api_support import ApiClient, problem_of

pytestmark = pytest.mark.django_db


def test_a_response_breaking_the_contract_becomes_a_logged_500(monkeypatch, caplog):
    api = ApiClient()
    monkeypatch.setattr(services, "order_list", lambda **kw: {"items": [], "count": "none"})
    with caplog.at_level(logging.ERROR, logger="django_interlink.api.middleware"):
        response = api.get("/api/orders")
    assert response.status_code == 500
    assert problem_of(response)["type"].endswith("/internal-server-error")
    assert "breaks shop.yaml" in caplog.text
    assert "count" in caplog.text


def test_an_exception_in_a_view_becomes_a_500_problem(monkeypatch, caplog):
    api = ApiClient()

    def explode(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "order_list", explode)
    api.client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="django_interlink.api.middleware"):
        response = api.get("/api/orders")
    assert response.status_code == 500
    assert response["Content-Type"] == PROBLEM_JSON
    assert "boom" in caplog.text


def test_paths_outside_the_prefix_are_not_validated(client):
    """/health/live/ is not in shop.yaml and answers as before."""
    response = client.get("/health/live/")
    assert response.status_code == 200
    assert response["Content-Type"] != PROBLEM_JSON
