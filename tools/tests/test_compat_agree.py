"""Contracts that agree with each other: each kind of check fails when an upstream contract is
widened past its downstream, the contracts as they are pass, and the flows table holds every
event field a choreography participant reads."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools.compat import __main__ as gate
from tools.compat import agree
from tools.compat.carry import UUID_PATTERN, flow_refusals
from tools.compat.flows import FLOWS, KEYS, event
from tools.compat.locate import SHOP, Contracts, event_schema
from tools.pacts import reads
from tools.tests.conftest import Tree, node, replace, set_keys

RESERVED = event_schema("checkout.stock_reserved")
TOTAL = "/properties/data/properties/total_amount"
PRODUCT = "/components/schemas/OrderItemCreate/properties/product_id"
CARD = "/components/schemas/CardPaymentMethod/properties"


def found(tree: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(f.rule, f.document, f.pointer) for f in agree.agree_findings(tree)}


def test_compat_agree_the_contracts_agree(contracts: Tree) -> None:
    """The working tree: no flow lets through what its downstream refuses."""
    assert agree.agree_findings(contracts) == []


def _unrequire(tree: dict[str, Any]) -> None:
    node(tree, RESERVED, "/properties/data")["required"].remove("total_amount")


def _exclusive_minimum(tree: dict[str, Any]) -> None:
    total = node(tree, RESERVED, TOTAL)
    del total["minimum"]
    total["exclusiveMinimum"] = -1  # an integer over -1: 0 and up


def _format_only(tree: dict[str, Any]) -> None:
    """The services' ids checked by format alone (no pattern), the shop's by length alone."""
    uuid = {"type": "string", "format": "uuid", "minLength": 36, "maxLength": 36}
    for document in ("contracts/inventory.yaml", "contracts/orders.yaml"):
        node(tree, document, "/components/schemas")["Id"] = dict(uuid)
    replace(SHOP, PRODUCT, {"type": "string", "minLength": 36, "maxLength": 36})(tree)


def _drop_payment_id(tree: dict[str, Any]) -> None:
    data = node(tree, event_schema("checkout.payment_captured"), "/properties/data")
    del data["properties"]["payment_id"]


EDITS: list[tuple[str, Any, set[tuple[str, str, str]]]] = [
    (
        "type: the event's total becomes any number",
        set_keys(RESERVED, TOTAL, type="number"),
        {("type-not-carried", RESERVED, f"{TOTAL}/type")},
    ),
    (
        "null: the event's total may be null",
        set_keys(RESERVED, TOTAL, type=["integer", "null"]),
        {("null-not-carried", RESERVED, TOTAL)},
    ),
    (
        "enum: the shop takes a payment method payments does not",
        replace(SHOP, f"{CARD}/type", {"type": "string", "enum": ["card", "paypal"]}),
        {("enum-not-carried", SHOP, f"{CARD}/type")},
    ),
    (
        "pattern: the shop's product id is another regular expression",
        replace(SHOP, PRODUCT, {"type": "string", "format": "uuid", "pattern": "^[0-9a-f-]{36}$"}),
        {("pattern-not-carried", SHOP, PRODUCT)},
    ),
    (
        "format: the services check the format alone, the shop's id promises none",
        _format_only,
        {("format-not-carried", SHOP, PRODUCT)},
    ),
    (
        "maximum: the event's total over the largest payment",
        set_keys(RESERVED, TOTAL, maximum=20_000_000_000),
        {("range-not-carried", RESERVED, f"{TOTAL}/maximum")},
    ),
    (
        "exclusive minimum: a total of 0 is no payment",
        _exclusive_minimum,
        {("range-not-carried", RESERVED, f"{TOTAL}/exclusiveMinimum")},
    ),
    (
        "minLength: the shop takes an empty card token",
        set_keys(SHOP, f"{CARD}/token", minLength=0),
        {("range-not-carried", SHOP, f"{CARD}/token/minLength")},
    ),
    (
        "maxLength: the shop takes a longer card token",
        set_keys(SHOP, f"{CARD}/token", maxLength=500),
        {("range-not-carried", SHOP, f"{CARD}/token/maxLength")},
    ),
    (
        "required: the event may leave the total out, payments requires an amount",
        _unrequire,
        {("required-not-carried", RESERVED, TOTAL)},
    ),
    (
        "a flow whose upstream field is gone",
        _drop_payment_id,
        {
            (
                "flow-unresolvable",
                event_schema("checkout.payment_captured"),
                "/data/payment_id",
            )
        },
    ),
]


@pytest.mark.parametrize(("name", "edit", "expected"), EDITS, ids=[e[0] for e in EDITS])
def test_compat_agree_an_upstream_widened_past_its_downstream_fails(
    name: str, edit: Any, expected: set[tuple[str, str, str]], contracts: Tree
) -> None:
    """Each edit of a copy of the contracts yields exactly its (rule, document, pointer)."""
    edit(contracts)
    assert found(contracts) == expected


def test_compat_agree_an_exclusive_bound_as_tight_as_the_downstreams_fits(contracts: Tree) -> None:
    """Integers: exclusiveMinimum 0 is minimum 1, exclusiveMaximum 10000000001 is the
    payments maximum; a narrower enum than the downstream's const fits; the uuid pattern
    promises the uuid format (and its length) whatever format it claims."""
    replace(SHOP, PRODUCT, {"type": "string", "format": "uri", "pattern": UUID_PATTERN})(contracts)
    total = node(contracts, RESERVED, TOTAL)
    del total["minimum"], total["maximum"]
    total.update(exclusiveMinimum=0, exclusiveMaximum=10_000_000_001)
    node(contracts, SHOP, CARD)["type"] = {"type": "string", "enum": ["card"]}
    assert found(contracts) == set()


def test_compat_agree_a_guard_names_the_check_the_code_makes(contracts: Tree) -> None:
    """The catalogue's price may be null (unpriced); orders refuses null: only the guard
    (shop/prices.py::check_price) keeps the flow from failing."""
    [flow] = [f for f in FLOWS if f.guards]
    located = Contracts(contracts)
    assert flow_refusals(located, flow) == []
    unguarded = dataclasses.replace(flow, guards={})
    assert [r.check for r in flow_refusals(located, unguarded)] == ["null"]


def test_compat_agree_every_field_a_participant_reads_is_in_the_flows_table() -> None:
    """Each event field a choreography participant's code reads flows somewhere the table
    checks, or is the checkout row's key."""
    upstreams = {flow.upstream for flow in FLOWS}
    missing = [
        (event_type, participant, name)
        for event_type, by_participant in sorted(reads.reads().items())
        for participant, names in sorted(by_participant.items())
        for name in sorted(names)
        if name not in KEYS and event(event_type, name) not in upstreams
    ]
    assert missing == []
    assert reads.fields_read("charge") == {"checkout_id", "total_amount"}


def test_compat_agree_command_exits_1_and_names_both_ends(
    contracts_copy: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m tools.compat.agree`: 0 on our contracts; 1 with a line per finding naming
    the upstream document and pointer, then the downstream document, operation and pointer."""
    assert agree.main(["--root", str(gate.ROOT)]) == 0
    assert "0 value(s)" in capsys.readouterr().out
    root = contracts_copy(RESERVED, TOTAL, maximum=20_000_000_000)
    assert agree.main(["--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert (
        f"AGREE {RESERVED} | {TOTAL}/maximum -> contracts/payments.yaml | createPayment | "
        "/amount: maximum 20000000000 > 10000000000"
    ) in out
    assert "(range-not-carried)" in out
