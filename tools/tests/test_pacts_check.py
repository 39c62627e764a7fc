"""The bi-directional check: each pact's interactions against the provider's OpenAPI/AsyncAPI."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools.pacts.__main__ import main
from tools.pacts.catalogue import PACTS_DIR, ROOT
from tools.pacts.check import check_all

CONTRACTS = ROOT / "contracts"


def _edited(tmp_path: Path, name: str, description: str, edit: Callable[[Any], None]) -> Path:
    """A copy of the committed pact `name` with one interaction changed by `edit`."""
    pact = json.loads((PACTS_DIR / name).read_text())
    (interaction,) = [i for i in pact["interactions"] if i["description"] == description]
    edit(interaction)
    (tmp_path / name).write_text(json.dumps(pact))
    return tmp_path


def _findings(pacts: Path) -> list[str]:
    return [str(finding) for finding in check_all(pacts, CONTRACTS)[2]]


def test_every_committed_pact_is_promised_by_its_providers_contract() -> None:
    """16 pacts (9 of them the checkout's), every interaction within what the OpenAPI and
    AsyncAPI documents promise."""
    pacts, interactions, findings = check_all(PACTS_DIR, CONTRACTS)
    assert (pacts, findings) == (16, [])
    assert interactions == 44


def test_a_response_field_the_contract_lacks_fails_naming_pact_interaction_and_field(
    tmp_path: Path,
) -> None:
    """users' User schema is closed: validation names the field (once, not again by the walk)."""

    def edit(interaction: Any) -> None:
        interaction["response"]["body"]["content"]["loyalty_points"] = 10

    pacts = _edited(tmp_path, "shop-users.json", "a request for a user", edit)
    assert _findings(pacts) == [
        "shop-users.json | a request for a user | loyalty_points: users.getUser response 200: "
        "loyalty_points: Additional properties are not allowed ('loyalty_points' was unexpected)"
    ]


def test_a_status_the_contract_does_not_list_fails(tmp_path: Path) -> None:
    def edit(interaction: Any) -> None:
        interaction["response"]["status"] = 410

    pacts = _edited(tmp_path, "shop-orders.json", "a request for an order", edit)
    (finding,) = _findings(pacts)
    assert finding.startswith(
        "shop-orders.json | a request for an order | status: getOrder does not list status 410"
    )


def test_a_request_the_contract_refuses_fails_naming_the_field(tmp_path: Path) -> None:
    def edit(interaction: Any) -> None:
        interaction["request"]["body"]["content"]["quantity"] = 0

    pacts = _edited(tmp_path, "shop-inventory.json", "a request to reserve units", edit)
    (finding,) = _findings(pacts)
    assert finding.startswith("shop-inventory.json | a request to reserve units | quantity: ")
    assert "minimum of 1" in finding


def test_a_response_header_the_contract_does_not_declare_fails(tmp_path: Path) -> None:
    def edit(interaction: Any) -> None:
        interaction["response"]["headers"]["X-Loyalty-Tier"] = ["gold"]

    pacts = _edited(tmp_path, "shop-payments.json", "a request for a payment", edit)
    assert _findings(pacts) == [
        "shop-payments.json | a request for a payment | header X-Loyalty-Tier: "
        "getPayment 200 does not declare this response header"
    ]


def test_a_message_field_the_asyncapi_lacks_fails(tmp_path: Path) -> None:
    """Event payloads are open (tolerant readers: extra fields validate): the field walk finds
    what a consumer relies on that the AsyncAPI document never promised."""

    def edit(interaction: Any) -> None:
        interaction["contents"]["content"]["data"]["referrer"] = "newsletter"

    pacts = _edited(tmp_path, "shop-handlers-users.json", "the user.created event", edit)
    assert _findings(pacts) == [
        "shop-handlers-users.json | the user.created event | data.referrer: "
        "user.created v1 does not declare it"
    ]


def test_a_message_the_schema_refuses_or_misroutes_fails(tmp_path: Path) -> None:
    def edit(interaction: Any) -> None:
        del interaction["contents"]["content"]["data"]["email"]
        interaction["metadata"]["routingKey"] = "users.created"

    pacts = _edited(tmp_path, "shop-handlers-users.json", "the user.created event", edit)
    (finding,) = _findings(pacts)
    assert (
        "the user.created event | <body>: user.created v1: data: 'email' is a required" in finding
    )


def test_the_command_exits_1_and_prints_the_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(PACTS_DIR / "shop-orders.json", tmp_path)
    assert main(["check", "--pacts", str(tmp_path)]) == 0

    def edit(interaction: Any) -> None:
        interaction["response"]["status"] = 418

    _edited(tmp_path, "shop-orders.json", "a request for an order", edit)
    assert main(["check", "--pacts", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "1 pacts, 8 interactions, 1 finding(s): FAILED" in out


@pytest.mark.parametrize("name", sorted(p.name for p in PACTS_DIR.glob("*.json")))
def test_each_pact_names_a_known_provider(name: str) -> None:
    provider = json.loads((PACTS_DIR / name).read_text())["provider"]["name"]
    senders = ("shop", "customer", "inventory", "payments", "orders")
    participants = {f"checkout-{p}" for p in senders}
    assert provider in {"users", "orders", "payments", "inventory", "order-saga", *participants}


STOCK_RESERVED = "the checkout.stock_reserved event"
PAYMENTS_PACT = "checkout-payments-checkout-inventory.json"


def test_a_part_of_an_event_the_contract_may_leave_out_fails(tmp_path: Path) -> None:
    """The payments participant reads total_amount: an event schema that stops requiring it
    no longer promises what the participant's pact expects."""
    shutil.copytree(CONTRACTS, tmp_path / "contracts")
    path = tmp_path / "contracts" / "events" / "schemas" / "checkout.stock_reserved.v1.json"
    schema = json.loads(path.read_text())
    schema["properties"]["data"]["required"].remove("total_amount")
    path.write_text(json.dumps(schema))
    pacts = tmp_path / "pacts"
    pacts.mkdir()
    shutil.copy(PACTS_DIR / PAYMENTS_PACT, pacts)
    findings = [str(f) for f in check_all(pacts, tmp_path / "contracts")[2]]
    assert findings == [
        f"{PAYMENTS_PACT} | {STOCK_RESERVED} | data.total_amount: "
        "checkout.stock_reserved v1 may leave it out"
    ]


def test_a_part_of_an_event_the_contract_refuses_fails(tmp_path: Path) -> None:
    """A partial message is still validated where it has values: a total in a string fails."""

    def edit(interaction: Any) -> None:
        interaction["contents"]["content"]["data"]["total_amount"] = "2500"

    pacts = _edited(tmp_path, PAYMENTS_PACT, STOCK_RESERVED, edit)
    (finding,) = _findings(pacts)
    assert finding.startswith(f"{PAYMENTS_PACT} | {STOCK_RESERVED} | <body>: ")
    assert finding.endswith("data.total_amount: '2500' is not of type 'integer'")
