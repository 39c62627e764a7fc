"""The door: what the shop's API accepts, the services behind it must carry.

`POST /api/orders` (contracts/shop.yaml) answers 202 before any service is called, so a value it
accepts that a downstream contract refuses is found only when the saga calls that service, with
stock already held (a quantity of 101 at a price of 100000000 is an amount the payments client
refuses). These rules read the bounds from the contracts and fail when one does not
fit (`python -m tools.compat.door`; `make contracts` runs them with every other flow through
`python -m tools.compat.agree`):

- the largest order, max items x max quantity x the largest price it can be charged, is a
  payment the payments service takes, and the smallest order is not under its minimum;
- the price charged is the catalogue's (inventory.yaml's reservation answer) when it declares
  one, else the buyer's (shop.yaml's unit_price); a price the door still takes must be one the
  catalogue can hold.

The door also owns, under its rule names, the flows of tools/compat/flows.py that carry a
`door_rule`, checked as every flow is (tools/compat/carry.py): every price charged is one the
orders service takes, an item's quantity fits a reservation and an order line, the item count
an order, the order's currency is one the payments and orders services take.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tools.compat.__main__ import ROOT, working_tree
from tools.compat.carry import flow_refusals
from tools.compat.flows import (
    AMOUNT,
    CATALOGUE_PRICE,
    FLOWS,
    ITEMS,
    QUANTITY,
    SENT_PRICE,
)
from tools.compat.locate import Contracts, Spot
from tools.compat.schema import Finding, Loc

DOOR_RULES: dict[str, str] = {
    "amount-over-payment-max": "the largest order the door takes is over the largest payment",
    "amount-under-payment-min": "the smallest order the door takes is under the smallest payment",
    "price-unbounded": "no contract bounds the price an order is charged",
    "price-outside-catalogue": "the door takes a unit_price no catalogue price can equal",
    "price-outside-orders": "a price the order is charged is one the orders service refuses",
    "quantity-over-downstream": "an item's quantity is over a reservation's or an order line's",
    "items-over-downstream": "the door takes more items than an order may hold",
    "currency-not-carried": "the door takes a currency the payments or orders service refuses",
}


def _finding(rule: str, loc: Loc, message: str) -> Finding:
    return Finding(loc.document, loc.pointer, rule, message, subject="placeOrder (the door)")


def _prices(door: Contracts) -> tuple[Spot | None, list[Finding]]:
    """Which price an order is charged (the catalogue's, else the buyer's), and the findings
    about the door's own unit_price against the catalogue."""
    findings: list[Finding] = []
    if door.bound(CATALOGUE_PRICE, "maximum") is None:
        return (SENT_PRICE if door.bound(SENT_PRICE, "maximum") is not None else None), findings
    sent_max, sent_min = door.bound(SENT_PRICE, "maximum"), door.bound(SENT_PRICE, "minimum")
    top, bottom = door.bound(CATALOGUE_PRICE, "maximum"), door.bound(CATALOGUE_PRICE, "minimum")
    if door.schema(SENT_PRICE) is None:
        return CATALOGUE_PRICE, findings
    if sent_max is None or sent_max > top:
        findings.append(
            _finding(
                "price-outside-catalogue",
                door.where(SENT_PRICE, "maximum"),
                f"{SENT_PRICE.label()} maximum {sent_max} > {CATALOGUE_PRICE.label()}"
                f" maximum {top}",
            )
        )
    if bottom is not None and (sent_min is None or sent_min < bottom):
        findings.append(
            _finding(
                "price-outside-catalogue",
                door.where(SENT_PRICE, "minimum"),
                f"{SENT_PRICE.label()} minimum {sent_min} < {CATALOGUE_PRICE.label()}"
                f" minimum {bottom}",
            )
        )
    return CATALOGUE_PRICE, findings


def _amounts(door: Contracts, price: Spot | None) -> list[Finding]:
    items, quantity = door.bound(ITEMS, "maxItems"), door.bound(QUANTITY, "maximum")
    if price is None:
        loc = door.where(QUANTITY, "maximum")
        return [_finding("price-unbounded", loc, "neither the catalogue nor the door bounds it")]
    top, bottom = door.bound(price, "maximum"), door.bound(price, "minimum")
    most, least = door.bound(AMOUNT, "maximum"), door.bound(AMOUNT, "minimum")
    findings = []
    if None in (items, quantity, top) or (most is not None and items * quantity * top > most):
        findings.append(
            _finding(
                "amount-over-payment-max",
                door.where(QUANTITY, "maximum"),
                f"{items} items x {quantity} units x {top} ({price.label()})"
                f" = {None if None in (items, quantity, top) else items * quantity * top}"
                f" > {most} ({AMOUNT.label()} maximum)",
            )
        )
    smallest = door.bound(ITEMS, "minItems") or 0
    smallest *= door.bound(QUANTITY, "minimum") or 0
    smallest *= bottom or 0
    if least is not None and smallest < least:
        findings.append(
            _finding(
                "amount-under-payment-min",
                door.where(price, "minimum"),
                f"the smallest order costs {smallest} < {least} ({AMOUNT.label()} minimum)",
            )
        )
    return findings


def _door_flows(door: Contracts, price: Spot | None) -> list[Finding]:
    """The flows of the table the door owns (tools/compat/flows.py), under the door's rule
    names; the price flow starts from the price the order is charged."""
    findings: list[Finding] = []
    for flow in FLOWS:
        if not flow.door_rule:
            continue
        upstream = flow.upstream
        if flow.door_rule == "price-outside-orders":
            if price is None:
                continue
            upstream = price
        if door.schema(upstream) is None or door.schema(flow.downstream) is None:
            continue
        for refusal in flow_refusals(door, flow, upstream):
            if upstream == SENT_PRICE and refusal.check == "required":
                continue  # charged only where the catalogue has no price: the buyer sent one
            findings.append(
                _finding(
                    flow.door_rule,
                    refusal.loc,
                    f"{upstream.label()}: {refusal.reason} ({flow.downstream.label()})",
                )
            )
    return findings


def door_findings(contracts: Mapping[str, Any]) -> list[Finding]:
    """Every value shop.yaml's placeOrder accepts that a service behind it cannot carry."""
    door = Contracts(contracts)
    price, findings = _prices(door)
    findings += _amounts(door, price)
    return findings + _door_flows(door, price)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.compat.door", description=__doc__)
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository")
    args = parser.parse_args(argv)
    findings = door_findings(working_tree(args.root))
    for f in findings:
        print(f"DOOR {f.document} | {f.pointer or '/'} | {f.rule} | {f.message}")
    print(f"door: {len(findings)} value(s) shop.yaml accepts that a service behind it refuses")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
