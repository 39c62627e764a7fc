"""The door rules: shop.yaml's placeOrder accepts only what the services behind it carry.

Each edit of a copy of the working tree's contracts yields exactly its findings; the contracts
as they are yield none; contracts with the buyer's price only, up to 100000000, fail.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools.compat import __main__ as gate
from tools.compat import door
from tools.tests.conftest import Tree, delete, node, set_keys

SHOP, INVENTORY = "contracts/shop.yaml", "contracts/inventory.yaml"
PAYMENTS, ORDERS = "contracts/payments.yaml", "contracts/orders.yaml"
SHOP_ITEM = "/components/schemas/OrderItemCreate/properties"
SHOP_ORDER = "/components/schemas/OrderRequestCreate/properties"
CATALOGUE = "/components/schemas/UnitPrice"


def found(tree: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(f.rule, f.document, f.pointer) for f in door.door_findings(tree)}


def test_compat_door_the_contracts_fit(contracts: Tree) -> None:
    """The working tree: every value the door takes is carried behind it."""
    assert door.door_findings(contracts) == []


def priced_by_the_buyer(tree: dict[str, Any]) -> None:
    """Contracts with no catalogue price and the buyer's price up to 100000000."""
    for name in ("Product", "Reservation"):
        properties = node(tree, INVENTORY, f"/components/schemas/{name}")["properties"]
        del properties["unit_price"]
    node(tree, SHOP, f"{SHOP_ITEM}/unit_price")["maximum"] = 100_000_000


def test_compat_door_fails_contracts_priced_by_the_buyer_on_the_largest_payment(
    contracts: Tree,
) -> None:
    """The buyer's price is what is charged: 50 x 1000 x 100000000 is over 10000000000."""
    priced_by_the_buyer(contracts)
    [finding] = door.door_findings(contracts)
    assert (finding.rule, finding.document, finding.pointer) == (
        "amount-over-payment-max",
        SHOP,
        f"{SHOP_ITEM}/quantity/maximum",
    )
    assert "50 items x 1000 units x 100000000" in finding.message
    assert "= 5000000000000 > 10000000000" in finding.message


EDITS: list[tuple[str, Any, set[tuple[str, str, str]]]] = [
    (
        "the door takes a price above any catalogue price",
        set_keys(SHOP, f"{SHOP_ITEM}/unit_price", maximum=100_000_000),
        {("price-outside-catalogue", SHOP, f"{SHOP_ITEM}/unit_price/maximum")},
    ),
    (
        "the door takes a price of 0, the catalogue none under 1",
        set_keys(SHOP, f"{SHOP_ITEM}/unit_price", minimum=0),
        {("price-outside-catalogue", SHOP, f"{SHOP_ITEM}/unit_price/minimum")},
    ),
    (
        "the catalogue allows dearer products than the largest payment carries",
        set_keys(INVENTORY, CATALOGUE, maximum=300_000),
        {("amount-over-payment-max", SHOP, f"{SHOP_ITEM}/quantity/maximum")},
    ),
    (
        "the catalogue allows free products: an order of them is no payment",
        set_keys(INVENTORY, CATALOGUE, minimum=0),
        {("amount-under-payment-min", INVENTORY, f"{CATALOGUE}/minimum")},
    ),
    (
        "the catalogue allows prices the orders service refuses",
        set_keys(ORDERS, "/components/schemas/OrderItemCreate/properties/unit_price", maximum=1000),
        {("price-outside-orders", INVENTORY, f"{CATALOGUE}/maximum")},
    ),
    (
        "the door takes more units than an order line",
        set_keys(SHOP, f"{SHOP_ITEM}/quantity", maximum=2000),
        {
            ("quantity-over-downstream", SHOP, f"{SHOP_ITEM}/quantity/maximum"),
            ("amount-over-payment-max", SHOP, f"{SHOP_ITEM}/quantity/maximum"),
        },
    ),
    (
        "the door takes more items than an order",
        set_keys(SHOP, f"{SHOP_ORDER}/items", maxItems=60),
        {
            ("items-over-downstream", SHOP, f"{SHOP_ORDER}/items/maxItems"),
            ("amount-over-payment-max", SHOP, f"{SHOP_ITEM}/quantity/maximum"),
        },
    ),
    (
        "the door bounds no quantity",
        delete(SHOP, f"{SHOP_ITEM}/quantity", "maximum"),
        {
            ("quantity-over-downstream", SHOP, f"{SHOP_ITEM}/quantity"),
            ("amount-over-payment-max", SHOP, f"{SHOP_ITEM}/quantity"),
        },
    ),
    (
        "payments takes a list of currencies, the door any three letters",
        set_keys(PAYMENTS, "/components/schemas/Currency", enum=["EUR", "USD"]),
        {("currency-not-carried", SHOP, f"{SHOP_ORDER}/currency")},
    ),
]


@pytest.mark.parametrize(("name", "edit", "expected"), EDITS, ids=[e[0] for e in EDITS])
def test_compat_door_an_edit_that_lets_through_what_is_refused_behind_fails(
    name: str, edit: Any, expected: set[tuple[str, str, str]], contracts: Tree
) -> None:
    """Each edit yields exactly its (rule, document, pointer) findings."""
    edit(contracts)
    assert found(contracts) == expected


def test_compat_door_an_enum_within_the_services_currencies_fits(contracts: Tree) -> None:
    """The door's enum within payments' enum, and matching orders' pattern: carried."""
    node(contracts, PAYMENTS, "/components/schemas/Currency")["enum"] = ["EUR", "USD"]
    node(contracts, SHOP, "/components/schemas/Currency")["enum"] = ["USD"]
    assert found(contracts) == set()
    node(contracts, SHOP, "/components/schemas/Currency")["enum"] = ["USD", "GBP"]
    assert found(contracts) == {("currency-not-carried", SHOP, f"{SHOP_ORDER}/currency")}


def test_compat_door_no_price_bound_anywhere_is_a_finding(contracts: Tree) -> None:
    """Neither the catalogue nor the door bounds a price: no amount can be bounded."""
    priced_by_the_buyer(contracts)
    del node(contracts, SHOP, SHOP_ITEM)["unit_price"]
    assert found(contracts) == {("price-unbounded", SHOP, f"{SHOP_ITEM}/quantity/maximum")}


def test_compat_door_command_exits_1_and_names_each_finding(
    contracts_copy: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m tools.compat.door`: 0 on our contracts, 1 with a DOOR line per finding."""
    assert door.main(["--root", str(gate.ROOT)]) == 0
    assert "door: 0 value(s)" in capsys.readouterr().out
    root = contracts_copy(SHOP, f"{SHOP_ITEM}/unit_price", maximum=100_000_000)
    assert door.main(["--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert (
        f"DOOR {SHOP} | {SHOP_ITEM}/unit_price/maximum | price-outside-catalogue | "
        "shop.yaml placeOrder items.[].unit_price maximum 100000000 > "
        "inventory.yaml createReservation unit_price maximum 200000"
    ) in out
