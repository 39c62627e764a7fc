"""Business outcomes of the four stubs, as the contracts promise them."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from mock_services.inventory.store import GADGET_ID, SEED_PRODUCTS, SOLD_OUT_ID, WIDGET_ID
from mock_services.tests.conftest import Api

USER_ID = "4b0e8bd5-2a8e-4f67-8c59-0b2a0b0d6d1e"
MISSING_ID = "9b2f6a0e-5d43-4a4b-9d0e-3c3f1f2b7a11"


def _order(api: dict[str, Api], **overrides: Any) -> dict[str, Any]:
    body = {
        "user_id": USER_ID,
        "items": [
            {"product_id": WIDGET_ID, "quantity": 2, "unit_price": 1999},
            {"product_id": GADGET_ID, "quantity": 1, "unit_price": 500},
        ],
        "currency": "EUR",
        **overrides,
    }
    response = api["orders"].post("/orders", json=body)
    assert response.status_code == 201
    order: dict[str, Any] = response.json()
    return order


def _payment(api: dict[str, Api], amount: int = 1000, card: str = "tok_visa") -> requests.Response:
    return api["payments"].post(
        "/payments",
        json={
            "user_id": USER_ID,
            "amount": amount,
            "currency": "EUR",
            "payment_method": {"type": "card", "token": card},
        },
    )


# users


def test_created_user_is_readable_and_located(api):
    """201 with Location; GET returns the same user, active by default."""
    created = api["users"].post("/users", json={"email": "ada@example.com", "name": "Ada"})
    user = created.json()
    assert created.headers["Location"] == f"/users/{user['id']}"
    assert api["users"].get(created.headers["Location"]).json() == user
    assert user["is_active"] is True


def test_unknown_user_is_404(api):
    """Reading a user that does not exist is a 404 not-found problem."""
    response = api["users"].get(f"/users/{MISSING_ID}")
    assert (response.status_code, response.json()["type"]) == (
        404,
        "https://errors.example.com/not-found",
    )


def test_inactive_user_stays_visible(api):
    """A deactivated user is still returned, with is_active false."""
    user = (
        api["users"]
        .post("/users", json={"email": "g@example.com", "name": "Grace", "is_active": False})
        .json()
    )
    fetched = api["users"].get(f"/users/{user['id']}")
    assert (fetched.status_code, fetched.json()["is_active"]) == (200, False)


def test_email_taken_is_409_regardless_of_case(api):
    """A second user with the same e-mail (any case) is refused with email-taken."""
    api["users"].post("/users", json={"email": "ada@example.com", "name": "Ada"})
    again = api["users"].post("/users", json={"email": "ADA@example.com", "name": "Other"})
    assert (again.status_code, again.json()["type"]) == (
        409,
        "https://errors.example.com/email-taken",
    )


def test_update_to_another_users_email_is_409(api):
    """PUT cannot take an e-mail owned by someone else, but may keep its own."""
    ada = api["users"].post("/users", json={"email": "ada@example.com", "name": "Ada"}).json()
    api["users"].post("/users", json={"email": "bob@example.com", "name": "Bob"})
    taken = api["users"].put(
        f"/users/{ada['id']}", json={"email": "bob@example.com", "name": "Ada", "is_active": True}
    )
    kept = api["users"].put(
        f"/users/{ada['id']}",
        json={"email": "ada@example.com", "name": "Ada K", "is_active": False},
    )
    assert taken.status_code == 409
    assert (kept.status_code, kept.json()["name"], kept.json()["is_active"]) == (
        200,
        "Ada K",
        False,
    )


def test_search_matches_email_or_name_and_honours_limit(api):
    """Case-insensitive substring search over e-mail and name, at most `limit` items."""
    for index in range(3):
        api["users"].post(
            "/users", json={"email": f"u{index}@example.com", "name": f"Lovelace {index}"}
        )
    api["users"].post("/users", json={"email": "other@example.com", "name": "Someone"})
    found = api["users"].get("/users/search", params={"q": "LOVELACE", "limit": 2}).json()
    assert found["count"] == 2
    assert [user["name"] for user in found["items"]] == ["Lovelace 0", "Lovelace 1"]


def test_any_stored_email_can_be_searched_for_whole(api):
    """An address of the longest length the contract stores (254) is a valid search text: the
    stateful run found a stored address whose search was refused as over 200 characters."""
    email = "a@" + "b" * 248 + ".com"
    assert len(email) == 254
    created = api["users"].post("/users", json={"email": email, "name": "Long"})
    assert created.status_code == 201
    found = api["users"].get("/users/search", params={"q": email}).json()
    assert [user["email"] for user in found["items"]] == [email]


# orders


def test_order_total_is_the_sum_of_its_lines(api):
    """total_amount = sum(quantity * unit_price); a new order is pending with no cancellation."""
    order = _order(api)
    assert order["total_amount"] == 2 * 1999 + 500
    assert (order["status"], order["cancellation_reason"], order["payment_id"]) == (
        "pending",
        None,
        None,
    )


def test_order_lifecycle_follows_the_allowed_transitions(api):
    """pending -> confirmed -> shipped -> delivered are each accepted."""
    order = _order(api)
    for status in ("confirmed", "shipped", "delivered"):
        response = api["orders"].put(f"/orders/{order['id']}/status", json={"status": status})
        assert (response.status_code, response.json()["status"]) == (200, status)


@pytest.mark.parametrize(
    ("path", "target"),
    [((), "shipped"), ((), "delivered"), ((), "pending"), (("confirmed", "shipped"), "cancelled")],
)
def test_invalid_status_transition_is_409(api, path, target):
    """Skipping a step, staying put or cancelling a shipped order is invalid-transition."""
    order = _order(api)
    for status in path:
        api["orders"].put(f"/orders/{order['id']}/status", json={"status": status})
    response = api["orders"].put(f"/orders/{order['id']}/status", json={"status": target})
    assert (response.status_code, response.json()["type"]) == (
        409,
        "https://errors.example.com/invalid-transition",
    )


def test_cancel_records_the_reason_and_second_cancel_is_409(api):
    """Cancelling sets status and reason; cancelling again is already-cancelled."""
    order = _order(api)
    cancelled = api["orders"].post(f"/orders/{order['id']}/cancel", json={"reason": "declined"})
    again = api["orders"].post(f"/orders/{order['id']}/cancel", json={})
    assert (cancelled.json()["status"], cancelled.json()["cancellation_reason"]) == (
        "cancelled",
        "declined",
    )
    assert (again.status_code, again.json()["type"]) == (
        409,
        "https://errors.example.com/already-cancelled",
    )


def test_user_orders_are_listed_newest_first(api):
    """GET /users/{id}/orders returns that user's orders only, newest first, up to limit."""
    first = _order(api)
    second = _order(api)
    _order(api, user_id=MISSING_ID)
    listed = api["orders"].get(f"/users/{USER_ID}/orders").json()
    limited = api["orders"].get(f"/users/{USER_ID}/orders", params={"limit": 1}).json()
    assert [o["id"] for o in listed["items"]] == [second["id"], first["id"]]
    assert (limited["count"], limited["items"][0]["id"]) == (1, second["id"])


# payments


def test_payment_is_captured(api):
    """A good card is charged at once: status captured, nothing refunded."""
    response = _payment(api, amount=1234)
    payment = response.json()
    assert response.status_code == 201
    assert (payment["status"], payment["amount"], payment["refunded_amount"]) == (
        "captured",
        1234,
        0,
    )


@pytest.mark.parametrize("token", ["tok_declined", "tok_insufficient_funds"])
def test_declined_card_is_402(api, token):
    """The declining tokens get 402 card-declined."""
    response = _payment(api, card=token)
    assert (response.status_code, response.json()["type"]) == (
        402,
        "https://errors.example.com/card-declined",
    )


def test_partial_then_full_refund(api):
    """Refunds add up: partially_refunded, then `{}` refunds the rest: refunded."""
    payment = _payment(api, amount=1000).json()
    partial = api["payments"].post(f"/payments/{payment['id']}/refund", json={"amount": 300})
    after_partial = api["payments"].get(f"/payments/{payment['id']}").json()
    rest = api["payments"].post(f"/payments/{payment['id']}/refund", json={})
    after_rest = api["payments"].get(f"/payments/{payment['id']}").json()
    assert (partial.status_code, partial.json()["amount"]) == (201, 300)
    assert (after_partial["status"], after_partial["refunded_amount"]) == (
        "partially_refunded",
        300,
    )
    assert rest.json()["amount"] == 700
    assert (after_rest["status"], after_rest["refunded_amount"]) == ("refunded", 1000)


def test_refund_above_remaining_is_422(api):
    """More than remains, or anything once fully refunded, is refund-exceeds-remaining."""
    payment = _payment(api, amount=1000).json()
    too_much = api["payments"].post(f"/payments/{payment['id']}/refund", json={"amount": 1001})
    api["payments"].post(f"/payments/{payment['id']}/refund", json={})
    nothing_left = api["payments"].post(f"/payments/{payment['id']}/refund", json={})
    for response in (too_much, nothing_left):
        assert (response.status_code, response.json()["type"]) == (
            422,
            "https://errors.example.com/refund-exceeds-remaining",
        )
    assert api["payments"].get(f"/payments/{payment['id']}").json()["refunded_amount"] == 1000


# inventory


def test_products_are_seeded(api):
    """The seeded products exist with their documented stock and price."""
    for product_id, sku, _name, on_hand, unit_price in SEED_PRODUCTS:
        product = api["inventory"].get(f"/products/{product_id}").json()
        assert (product["sku"], product["on_hand"], product["available"]) == (sku, on_hand, on_hand)
        assert (product["unit_price"], product["currency"]) == (unit_price, "USD")


def test_a_product_is_created_priced_or_unpriced(api):
    """unit_price and currency are kept as given; left out, the product has no price yet and
    its currency is USD."""
    priced = api["inventory"].post(
        "/products",
        json={"sku": "PRICED-1", "name": "P", "on_hand": 1, "unit_price": 1999, "currency": "EUR"},
    )
    unpriced = api["inventory"].post(
        "/products", json={"sku": "UNPRICED-1", "name": "U", "on_hand": 1}
    )
    assert [
        (r.status_code, r.json()["unit_price"], r.json()["currency"]) for r in (priced, unpriced)
    ] == [
        (201, 1999, "EUR"),
        (201, None, "USD"),
    ]
    too_dear = api["inventory"].post(
        "/products", json={"sku": "DEAR-1", "name": "D", "on_hand": 1, "unit_price": 200_001}
    )
    assert too_dear.status_code == 422


def test_a_reservation_keeps_the_price_it_was_made_at(api):
    """The reservation carries the product's price when it was made; a later price change
    touches neither it nor a replay of its request under the same Idempotency-Key."""
    inventory = api["inventory"]
    body = {"product_id": WIDGET_ID, "quantity": 2}
    key = {"Idempotency-Key": "reserve-at-price"}
    first = inventory.post("/reservations", json=body, headers=key).json()
    inventory.server.app.state.runtime.store.set_price(WIDGET_ID, 1500)
    replay = inventory.post("/reservations", json=body, headers=key)
    later = inventory.post("/reservations", json=body).json()
    stored = inventory.get(f"/reservations/{first['id']}").json()
    assert (first["unit_price"], first["currency"]) == (1250, "USD")
    assert (replay.headers["Idempotent-Replayed"], replay.json()["unit_price"]) == ("true", 1250)
    assert (stored["unit_price"], later["unit_price"]) == (1250, 1500)
    assert inventory.get(f"/products/{WIDGET_ID}").json()["unit_price"] == 1500


def test_reserve_and_release_move_units_between_available_and_reserved(api):
    """on_hand stays; reserve moves units to reserved, release moves them back."""
    reservation = (
        api["inventory"]
        .post(
            "/reservations", json={"product_id": GADGET_ID, "quantity": 4, "order_reference": "o-1"}
        )
        .json()
    )
    reserved = api["inventory"].get(f"/products/{GADGET_ID}").json()
    released = api["inventory"].post(f"/reservations/{reservation['id']}/release")
    restored = api["inventory"].get(f"/products/{GADGET_ID}").json()
    assert (reservation["status"], reservation["order_reference"]) == ("active", "o-1")
    assert (reserved["on_hand"], reserved["reserved"], reserved["available"]) == (10, 4, 6)
    assert (released.status_code, released.json()["status"]) == (200, "released")
    assert (restored["on_hand"], restored["reserved"], restored["available"]) == (10, 0, 10)


def test_insufficient_stock_is_409(api):
    """Reserving more than available is insufficient-stock and reserves nothing."""
    sold_out = api["inventory"].post(
        "/reservations", json={"product_id": SOLD_OUT_ID, "quantity": 1}
    )
    too_many = api["inventory"].post(
        "/reservations", json={"product_id": GADGET_ID, "quantity": 11}
    )
    for response in (sold_out, too_many):
        assert (response.status_code, response.json()["type"]) == (
            409,
            "https://errors.example.com/insufficient-stock",
        )
    assert api["inventory"].get(f"/products/{GADGET_ID}").json()["reserved"] == 0


def test_reserving_an_unknown_product_is_404(api):
    """A reservation for a product that does not exist is a 404."""
    response = api["inventory"].post(
        "/reservations", json={"product_id": MISSING_ID, "quantity": 1}
    )
    assert response.status_code == 404


def test_releasing_twice_is_409(api):
    """A released reservation cannot be released again (already-released)."""
    reservation = (
        api["inventory"].post("/reservations", json={"product_id": WIDGET_ID, "quantity": 1}).json()
    )
    api["inventory"].post(f"/reservations/{reservation['id']}/release")
    again = api["inventory"].post(f"/reservations/{reservation['id']}/release")
    assert (again.status_code, again.json()["type"]) == (
        409,
        "https://errors.example.com/already-released",
    )


def test_duplicate_sku_is_409(api):
    """SKUs are unique: creating WIDGET-001 again is sku-taken."""
    response = api["inventory"].post(
        "/products", json={"sku": "WIDGET-001", "name": "Copy", "on_hand": 1}
    )
    assert (response.status_code, response.json()["type"]) == (
        409,
        "https://errors.example.com/sku-taken",
    )


def test_reset_restores_the_seed(api):
    """After reservations and new products, reset brings back exactly the seeded stock."""
    api["inventory"].post("/reservations", json={"product_id": WIDGET_ID, "quantity": 5})
    created = (
        api["inventory"]
        .post("/products", json={"sku": "NEW-1", "name": "New", "on_hand": 1})
        .json()
    )
    api["inventory"].server.reset()
    assert api["inventory"].get(f"/products/{WIDGET_ID}").json()["reserved"] == 0
    assert api["inventory"].get(f"/products/{created['id']}").status_code == 404
