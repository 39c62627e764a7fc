"""The playground's switch to the choreographed checkout: start one from the page's form data,
watch its row, events, calls and charges; bad input is refused with the field named."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from django_interlink.events.memory import MemoryBus
from mock_services.inventory.store import WIDGET_ID
from shop.choreography.local import settle
from shop.clients.users import UserServiceClient
from shop.models import Checkout, Customer

pytestmark = pytest.mark.django_db


def customer(username: str = "ada") -> str:
    account = User.objects.create_user(username, password="pw-for-tests")
    user = UserServiceClient().create_user(email=f"{username}@example.com", name="Ada")
    Customer.objects.create(account=account, user_id=uuid.UUID(user["id"]))
    return str(user["id"])


def place(staff: Client, **body: Any) -> Any:
    order = {"customer": "ada", "items": [{"product_id": WIDGET_ID, "quantity": 2}]}
    return staff.post(
        reverse("playground:checkouts"), {"card": "tok_visa", **order, **body}, "application/json"
    )


def test_the_page_shows_the_switch_and_loads_its_script(
    staff: Client, registered_stubs: dict[str, Any], services_settings: dict[str, Any]
):
    """The page offers both flows, the feed's URL, and the switch's script before the page's."""
    page = staff.get(reverse("playground:page")).content.decode()
    assert 'id="flow-choreographed"' in page
    assert f'data-place="{reverse("playground:checkouts")}"' in page
    assert page.index("choreography.js") < page.index("playground.js")


def test_a_checkout_started_from_the_page_runs_to_completed_and_shows_its_events_and_calls(
    staff: Client,
    registered_stubs: dict[str, Any],
    services_settings: dict[str, Any],
    memory_bus: MemoryBus,
):
    """202 with the checkout's id; once the participants have run, the feed shows the row,
    the five events each handled, the calls per service and the one charge."""
    user_id = customer()
    response = place(staff)
    assert response.status_code == 202
    checkout_id = response.json()["checkout_id"]
    assert str(Checkout.objects.get(checkout_id=checkout_id).user_id) == user_id
    settle(bus=memory_bus)
    feed = staff.get(reverse("playground:checkout", args=[checkout_id])).json()
    assert (feed["status"], feed["moved_by"], feed["error"]) == ("completed", "notification", "")
    assert [(e["event_type"], all(h["done"] for h in e["handlers"])) for e in feed["events"]] == [
        ("checkout.requested", True),
        ("checkout.customer_verified", True),
        ("checkout.stock_reserved", True),
        ("checkout.payment_captured", True),
        ("checkout.order_placed", True),
    ]
    assert sorted(c["service"] for c in feed["calls"]) == ["inventory", "orders", "payments"]
    assert [c["status"] for c in feed["charges"]] == ["captured"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"items": []}, "items: a non-empty list"),
        ({"items": [{"product_id": WIDGET_ID, "quantity": 0}]}, "items[0].quantity"),
        ({"items": [{"quantity": 1}]}, "items[0].product_id"),
        ({"card": "tok_stolen"}, "card: one of"),
    ],
)
def test_a_bad_order_is_refused_with_the_field_named(
    staff: Client, playground_dir: Path, body: dict[str, Any], error: str
):
    """400 naming what is wrong; no checkout is started."""
    response = place(staff, **body)
    assert response.status_code == 400
    assert error in response.json()["errors"][0]
    assert Checkout.objects.count() == 0


def test_an_unknown_customer_or_checkout_is_a_404_and_a_bad_id_a_400(staff: Client):
    """Nobody orders as a customer the playground does not know; the feed checks its id."""
    assert place(staff, customer="mallory").status_code == 404
    unknown = reverse("playground:checkout", args=[str(uuid.uuid4())])
    assert staff.get(unknown).status_code == 404
    bad = staff.get(reverse("playground:checkout", args=["not-a-uuid"]))
    assert (bad.status_code, bad.json()["title"][:12]) == (400, "checkout id:")
