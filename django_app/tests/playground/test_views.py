"""The playground's views: login required, a customer's API token for the page (its orders go
through POST /api/orders and run no step in the request), faults checked as the stubs'
FaultSpec and forwarded, the kill switch. The feeds are in test_feeds.py."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from django_interlink.models import SagaExecution, SagaStepLog
from mock_services.inventory.store import GADGET_ID, SOLD_OUT_ID, WIDGET_ID
from project.playground.files import KILL_AFTER_CHARGE, WORKERS, write_json
from shop.models import Customer

pytestmark = pytest.mark.django_db

JSON_VIEWS = [
    ("post", "playground:token", ["ada"]),
    ("get", "playground:status", []),
    ("get", "playground:faults", []),
    ("post", "playground:kill", []),
    ("get", "playground:saga", ["s-1"]),
    ("get", "playground:events", ["s-1"]),
    ("get", "playground:calls", ["s-1"]),
    ("get", "playground:verdict", ["s-1", "declined-card"]),
]


def _post(client: Client, name: str, body: Any, *args: str) -> Any:
    return client.post(reverse(name, args=list(args)), json.dumps(body), "application/json")


ORDER = {
    "items": [{"product_id": WIDGET_ID, "quantity": 2}],
    "currency": "USD",
    "payment_method": {"type": "card", "token": "tok_visa"},
}


def test_the_page_sends_an_anonymous_visitor_to_the_login(playground_dir: Path, client: Client):
    response = client.get(reverse("playground:page"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("playground:login"))


@pytest.mark.parametrize(("method", "name", "args"), JSON_VIEWS)
def test_every_feed_and_action_refuses_an_anonymous_caller(
    playground_dir: Path, client: Client, method: str, name: str, args: list[str]
):
    response = getattr(client, method)(reverse(name, args=args))
    assert (response.status_code, response.json()["title"]) == (401, "log in first")


@pytest.mark.parametrize(("method", "name", "args"), JSON_VIEWS)
def test_a_user_who_is_not_staff_is_refused(
    playground_dir: Path, client: Client, method: str, name: str, args: list[str]
):
    client.force_login(User.objects.create_user("customer", password="pw-for-tests"))
    response = getattr(client, method)(reverse(name, args=args))
    assert response.status_code == 403
    assert client.get(reverse("playground:page")).status_code == 403


def test_the_login_form_logs_a_staff_user_in(playground_dir: Path, client: Client):
    User.objects.create_user("pg-staff", password="pw-for-tests", is_staff=True)
    bad = client.post(reverse("playground:login"), {"username": "pg-staff", "password": "no"})
    assert bad.status_code == 200
    assert "Wrong username or password" in bad.content.decode()
    response = client.post(
        reverse("playground:login"), {"username": "pg-staff", "password": "pw-for-tests"}
    )
    assert (response.status_code, response["Location"]) == (302, reverse("playground:page"))


def test_the_page_offers_the_customers_cards_and_every_stub_operation(
    staff: Client, registered_stubs: dict[str, Any], services_settings: dict[str, Any]
):
    response = staff.get(reverse("playground:page"))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<option value="ada">Ada Lovelace</option>' in html
    for token in ("tok_visa", "tok_declined", "tok_insufficient_funds"):
        assert f'value="{token}"' in html
    config = response.context["config"]
    assert {"method": "POST", "path": "/payments"} in config["operations"]["payments"]
    assert {"method": "POST", "path": "/reservations"} in config["operations"]["inventory"]
    # Nothing from the network: the scripts (the page's, its explanations', the presets' and the
    # flow switch's) and the one stylesheet are our static files.
    assert "https://" not in html and "//cdn" not in html
    assert re.findall(r'<script src="([^"]+)"', html) == [
        "/static/playground/choreography.js",
        "/static/playground/playground.js",
        "/static/playground/explain.js",
        "/static/playground/presets.js",
    ]


def test_the_page_shows_the_prices_the_inventory_stub_holds_now(
    staff: Client, registered_stubs: dict[str, Any], services_settings: dict[str, Any]
):
    """The catalogue's prices, read through the inventory client: a price changed in the stub
    is the one the page shows, and the order the page sends names none."""
    registered_stubs["inventory"].app.state.runtime.store.set_price(WIDGET_ID, 1399)
    response = staff.get(reverse("playground:page"))
    html = response.content.decode()
    shown = {p["id"]: (p["unit_price"], p["currency"]) for p in response.context["products"]}
    assert shown == {WIDGET_ID: (1399, "USD"), GADGET_ID: (4999, "USD"), SOLD_OUT_ID: (800, "USD")}
    assert f'<small class="price" data-product="{WIDGET_ID}">1399 ¢ USD, 100 available' in html
    assert "data-price" not in html


def test_the_page_gets_a_customer_token_that_places_orders_through_the_api(
    staff: Client, registered_stubs: dict[str, Any]
):
    account = User.objects.create(username="ada")
    Customer.objects.create(account=account, user_id=uuid.UUID(WIDGET_ID))
    issued = staff.post(reverse("playground:token", args=["ada"]))
    assert issued.status_code == 200
    token = issued.json()["token"]
    api = Client()
    response = api.post(
        reverse("shop_api:orders"),
        json.dumps(ORDER),
        "application/json",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "pg-test-1"},
    )
    assert response.status_code == 202
    saga_id = response.json()["id"]
    execution = SagaExecution.objects.get(saga_id=saga_id)
    assert (execution.status, execution.lease_owner) == ("pending", "")
    assert execution.context_data["user_id"] == WIDGET_ID
    # Nothing ran in the request: no step attempt, no call to any stub.
    assert SagaStepLog.objects.filter(execution=execution).count() == 0
    assert [stub.requests() for stub in registered_stubs.values()] == [[], [], [], []]
    # The playground's feed of the same saga.
    feed = staff.get(reverse("playground:saga", args=[saga_id])).json()
    assert (feed["status"], feed["steps"], feed["card"]) == ("pending", [], "tok_visa")


def test_a_token_only_for_a_customer_of_the_playground(staff: Client):
    User.objects.create(username="not-a-customer")
    response = staff.post(reverse("playground:token", args=["not-a-customer"]))
    assert (response.status_code, response.json()["title"]) == (404, "no customer not-a-customer")
    assert staff.get(reverse("playground:token", args=["ada"])).status_code == 405


def test_a_body_that_is_not_a_json_object_is_refused(staff: Client):
    response = staff.post(reverse("playground:faults"), "[1, 2]", "application/json")
    assert (response.status_code, response.json()["title"]) == (400, "a JSON object is expected")


def test_a_valid_fault_is_forwarded_to_the_stub_as_given(
    staff: Client, registered_stubs: dict[str, Any], services_settings: dict[str, Any]
):
    spec = {"method": "post", "path": "/payments", "kind": "rate_limit", "retry_after": 2}
    response = _post(staff, "playground:faults", {"service": "payments", **spec, "times": 3})
    assert response.status_code == 201
    [held] = registered_stubs["payments"].faults.list()
    assert held["id"] == response.json()["id"]
    assert (held["method"], held["path"], held["kind"], held["retry_after"], held["times"]) == (
        "POST",
        "/payments",
        "rate_limit",
        2,
        3,
    )
    listed = staff.get(reverse("playground:faults")).json()["faults"]
    assert [(f["service"], f["id"]) for f in listed] == [("payments", held["id"])]
    cleared = staff.delete(reverse("playground:faults"))
    assert cleared.json() == {"faults": []}
    assert registered_stubs["payments"].faults.list() == []


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"service": "billing", "method": "GET", "path": "*", "kind": "drop"}, ["service"]),
        ({"service": "payments", "method": "POST", "path": "*", "kind": "explode"}, ["kind"]),
        (
            {
                "service": "payments",
                "method": "POST",
                "path": "*",
                "kind": "latency",
                "status": 503,
            },
            [],
        ),
        ({"service": "payments", "method": "PO ST", "path": "*", "kind": "drop"}, ["method"]),
        ({"service": "payments", "method": "GET", "path": "*", "kind": "drop", "x": 1}, ["x"]),
        (
            {"service": "payments", "method": "GET", "path": "*", "kind": "drop", "times": -1},
            ["times"],
        ),
    ],
)
def test_a_bad_fault_is_refused_and_nothing_reaches_the_stub(
    staff: Client,
    registered_stubs: dict[str, Any],
    services_settings: dict[str, Any],
    body: dict[str, Any],
    where: list[str],
):
    response = _post(staff, "playground:faults", body)
    assert (response.status_code, response.json()["title"]) == (400, "invalid fault")
    assert [e["loc"] for e in response.json()["errors"]] == [where]
    assert all(stub.faults.list() == [] for stub in registered_stubs.values())


def test_the_kill_switch_is_a_flag_file_the_status_feed_reports(
    staff: Client, playground_dir: Path
):
    write_json(playground_dir / WORKERS, {"pid": 41, "started": 2, "exits": [{"pid": 40}]})
    assert staff.post(reverse("playground:kill")).json() == {"kill_armed": True}
    assert (playground_dir / KILL_AFTER_CHARGE).exists()
    worker = staff.get(reverse("playground:status")).json()["worker"]
    assert worker == {"pid": 41, "started": 2, "exits": [{"pid": 40}], "kill_armed": True}
    assert staff.delete(reverse("playground:kill")).json() == {"kill_armed": False}
    assert not (playground_dir / KILL_AFTER_CHARGE).exists()
