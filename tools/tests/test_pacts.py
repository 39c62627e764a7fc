"""The shop's pacts: current with the code that writes them, honoured by the stubs (HTTP, over
real sockets, provider states through the control plane) and by the real event publisher."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from django_interlink.events.consumer import Dispatcher
from django_interlink.events.handlers import load_registry
from django_interlink.events.outcomes import Outcome
from mock_services.testing import StubServer
from shop.models import OrderStatistics, UserProfile
from tools.pacts.catalogue import HTTP_CONSUMERS, PACTS_DIR, write_all
from tools.pacts.checkout import CHECKOUT_EVENTS, checkout_pacts
from tools.pacts.verify import (
    choreography_messages,
    saga_messages,
    user_created_message,
    verify_http,
    verify_messages,
)


def _comparable(path: Path) -> dict[str, Any]:
    """A pact without what changes from run to run or machine to machine (pact's versions)."""
    pact: dict[str, Any] = json.loads(path.read_text())
    pact.pop("metadata", None)
    pact["interactions"] = sorted(pact["interactions"], key=lambda i: i["description"])
    return pact


def test_committed_pacts_are_what_the_consumers_write_today(tmp_path: Path) -> None:
    """`make pacts` would change nothing: the pacts written now from the real clients and
    event code equal contracts/pacts/ (else the committed pacts are stale)."""
    written = write_all(tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in PACTS_DIR.glob("*.json"))
    stale = [p.name for p in written if _comparable(p) != _comparable(PACTS_DIR / p.name)]
    assert stale == [], f"stale pacts (run make pacts): {stale}"


@pytest.mark.parametrize("provider", sorted(HTTP_CONSUMERS))
def test_the_stub_honours_the_shops_pact(
    provider: str, stubs: dict[str, StubServer], stub_token: str
) -> None:
    """Every interaction the shop's client relies on, replayed by pact's verifier against the
    stub on its socket, in the provider state the interaction names."""
    results = verify_http(PACTS_DIR / f"shop-{provider}.json", stubs[provider], stub_token)
    assert results["result"] is True


def test_a_stub_that_breaks_a_pact_fails_verification(tmp_path: Path, stub_token: str) -> None:
    """The verifier is not vacuous: a pact expecting what the stub does not answer fails,
    naming the interaction and the field."""
    pact = json.loads((PACTS_DIR / "shop-users.json").read_text())
    for interaction in pact["interactions"]:
        if interaction["description"] == "a request for a user":
            interaction["response"]["body"]["content"]["nickname"] = "Ada"
    broken = tmp_path / "shop-users.json"
    broken.write_text(json.dumps(pact))
    with StubServer("users", stub_token) as stub, pytest.raises(AssertionError) as failure:
        verify_http(broken, stub, stub_token)
    assert "a request for a user" in str(failure.value)
    assert "nickname" in str(failure.value)


@pytest.mark.django_db
def test_the_relayed_outbox_honours_the_message_pacts(
    services_settings: dict[str, Any], reset_stubs: dict[str, StubServer]
) -> None:
    """The order saga, run on the stubs until it undoes its order, writes outbox rows whose
    relayed envelopes (body, content type, routing key) meet every message pact."""
    produced = {**saga_messages(), "user.created": user_created_message()}
    verified = verify_messages(PACTS_DIR, produced)
    assert verified == [
        "shop-handlers-users.json",
        "shop-handlers-order-saga.json",
        "event-subscribers-order-saga.json",
    ]


def test_a_message_pact_the_publisher_does_not_meet_fails(tmp_path: Path) -> None:
    """A consumer relying on a field the publisher does not send fails verification."""
    shutil.copy(PACTS_DIR / "shop-handlers-users.json", tmp_path)
    path = tmp_path / "shop-handlers-users.json"
    pact = json.loads(path.read_text())
    pact["interactions"][0]["contents"]["content"]["data"]["phone"] = "+44 20 7946 0000"
    path.write_text(json.dumps(pact))
    with pytest.raises(AssertionError) as failure:
        verify_messages(tmp_path, {"user.created": user_created_message()}, providers={"users"})
    assert "$.data -> Actual map is missing the following keys: phone" in str(failure.value)


@pytest.mark.django_db
def test_the_shops_handlers_handle_the_messages_their_pacts_describe(
    services_settings: dict[str, Any], reset_stubs: dict[str, StubServer]
) -> None:
    """The consumer side, end to end: each message of the shop-handlers pacts, as the pact's
    example, through the real dispatcher (decode, validate, inbox, handler) is acknowledged
    and does what the handler is for."""
    dispatcher = Dispatcher(load_registry(["shop.handlers"]))
    handled: dict[str, dict[str, Any]] = {}
    for name in ("shop-handlers-users.json", "shop-handlers-order-saga.json"):
        for interaction in json.loads((PACTS_DIR / name).read_text())["interactions"]:
            envelope = interaction["contents"]["content"]
            result = dispatcher.dispatch(json.dumps(envelope).encode())
            assert (interaction["description"], result.outcome) == (
                interaction["description"],
                Outcome.ACK,
            )
            handled[envelope["event_type"]] = envelope["data"]
    user = handled["user.created"]
    assert UserProfile.objects.get(user_id=user["user_id"]).email == user["email"]
    order = handled["order.created"]
    stats = OrderStatistics.objects.get(user_id=order["user_id"], currency=order["currency"])
    assert (stats.order_count, stats.total_amount) == (1, order["total_amount"])


@pytest.mark.django_db
def test_the_choreographys_outbox_honours_the_checkout_pacts(
    tmp_path: Path, services_settings: dict[str, Any], reset_stubs: dict[str, StubServer]
) -> None:
    """The participants, run on the stubs through every ending of a checkout, publish the 11
    checkout events; each relayed envelope meets every checkout pact."""
    produced = choreography_messages(reset_stubs)
    assert sorted(produced) == sorted(CHECKOUT_EVENTS)
    pacts = checkout_pacts()
    verified = verify_messages(PACTS_DIR, produced, pacts=pacts)
    assert verified == [f"{consumer}-{provider}.json" for consumer, provider in pacts]
    # Not vacuous: the orders participant relying on a field payments does not send fails.
    name = "checkout-orders-checkout-payments.json"
    pact = json.loads((PACTS_DIR / name).read_text())
    pact["interactions"][0]["contents"]["content"]["data"]["receipt_url"] = "https://x.test/r"
    (tmp_path / name).write_text(json.dumps(pact))
    only = {("checkout-orders", "checkout-payments"): pacts["checkout-orders", "checkout-payments"]}
    with pytest.raises(AssertionError) as failure:
        verify_messages(tmp_path, produced, pacts=only)
    assert "$.data -> Actual map is missing the following keys: receipt_url" in str(failure.value)


def test_a_checkout_pact_names_only_what_the_participant_reads() -> None:
    """The payments participant's pact on stock_reserved expects the envelope's ids and the
    two data fields its code reads, not the reservations or the currency."""
    pact = json.loads((PACTS_DIR / "checkout-payments-checkout-inventory.json").read_text())
    [interaction] = pact["interactions"]
    content = interaction["contents"]["content"]
    assert sorted(content["data"]) == ["checkout_id", "total_amount"]
    assert sorted(content) == ["correlation_id", "data", "event_id", "event_type", "version"]
