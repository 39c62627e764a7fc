"""The door: what the shop's API accepts, the services behind it must carry.

`POST /api/orders` (contracts/shop.yaml) answers 202 before any service is called, so a value it
accepts that a downstream contract refuses is found only when the saga calls that service, with
stock already held (issue 17: quantity 101 at 100000000 was accepted, and the payments client
refused the amount). These rules read the bounds from the contracts and fail when one does not
fit (`python -m tools.compat.door`, run by `make contracts`):

- the largest order, max items x max quantity x the largest price it can be charged, is a
  payment the payments service takes, and the smallest order is not under its minimum;
- the price charged is the catalogue's (inventory.yaml's reservation answer) when it declares
  one, else the buyer's (shop.yaml's unit_price); a price the door still takes must be one the
  catalogue can hold, and every catalogue price one the orders service takes;
- an item's quantity fits a reservation and an order line, the item count an order;
- the order's currency is one the payments and orders services take (an enum within theirs, or
  the same pattern: patterns are compared as text).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.compat.__main__ import ROOT, working_tree
from tools.compat.schema import Documents, Finding, Loc, Unresolvable, View, view

SHOP, PAYMENTS = "contracts/shop.yaml", "contracts/payments.yaml"
INVENTORY, ORDERS = "contracts/inventory.yaml", "contracts/orders.yaml"

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


@dataclass(frozen=True)
class Value:
    """One schema the rules read: an operation's request body or response, then properties
    (`[]` steps into an array's items)."""

    document: str
    operation: str  # operationId
    part: str  # "request" or a response status
    path: tuple[str, ...]

    def label(self) -> str:
        return f"{self.document.rpartition('/')[2]} {self.operation} {'.'.join(self.path)}"


ITEMS = Value(SHOP, "placeOrder", "request", ("items",))
QUANTITY = Value(SHOP, "placeOrder", "request", ("items", "[]", "quantity"))
SENT_PRICE = Value(SHOP, "placeOrder", "request", ("items", "[]", "unit_price"))
CURRENCY = Value(SHOP, "placeOrder", "request", ("currency",))
CATALOGUE_PRICE = Value(INVENTORY, "createReservation", "201", ("unit_price",))
RESERVED_QUANTITY = Value(INVENTORY, "createReservation", "request", ("quantity",))
AMOUNT = Value(PAYMENTS, "createPayment", "request", ("amount",))
PAYMENT_CURRENCY = Value(PAYMENTS, "createPayment", "request", ("currency",))
ORDER_ITEMS = Value(ORDERS, "createOrder", "request", ("items",))
ORDER_QUANTITY = Value(ORDERS, "createOrder", "request", ("items", "[]", "quantity"))
ORDER_PRICE = Value(ORDERS, "createOrder", "request", ("items", "[]", "unit_price"))
ORDER_CURRENCY = Value(ORDERS, "createOrder", "request", ("currency",))


class Door:
    """The contracts, read through $refs and allOf, with the bounds the rules need."""

    def __init__(self, contracts: Mapping[str, Any]) -> None:
        self.docs = Documents(contracts)

    def _operation(self, document: str, operation_id: str) -> Loc:
        for template, item in self.docs.get(Loc(document, "")).get("paths", {}).items():
            for method, operation in item.items():
                if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                    return Loc(document, "").child("paths", template, method)
        raise Unresolvable(f"{document}: no operation {operation_id}")

    def _deref(self, loc: Loc) -> Loc:
        node = self.docs.get(loc)
        while isinstance(node, dict) and "$ref" in node:
            loc = self.docs.target(node["$ref"], loc)
            node = self.docs.get(loc)
        return loc

    def schema(self, value: Value) -> View | None:
        """The schema at `value`, or None where the contract has no such field."""
        op = self._operation(value.document, value.operation)
        if value.part == "request":
            body = self._deref(op.child("requestBody"))
        else:
            body = self._deref(op.child("responses", value.part))
        current = view(self.docs, [body.child("content", "application/json", "schema")])
        for step in value.path:
            locs = current.items if step == "[]" else current.properties.get(step)
            if not locs:
                return None
            current = view(self.docs, locs)
        return current

    def bound(self, value: Value, keyword: str) -> Any:
        schema = self.schema(value)
        return None if schema is None else schema.keywords.get(keyword, (None,))[0]

    def where(self, value: Value, keyword: str) -> Loc:
        schema = self.schema(value)
        if schema is None:
            return Loc(value.document, "")
        return schema.at(keyword)


def _finding(rule: str, loc: Loc, message: str) -> Finding:
    return Finding(loc.document, loc.pointer, rule, message, subject="placeOrder (the door)")


def _prices(door: Door) -> tuple[Value | None, list[Finding]]:
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


def _amounts(door: Door, price: Value | None) -> list[Finding]:
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


def _within(door: Door, rule: str, inner: Value, outer: Value, keyword: str) -> list[Finding]:
    """`inner`'s bound within `outer`'s (upper bounds no higher, lower bounds no lower)."""
    mine, theirs = door.bound(inner, keyword), door.bound(outer, keyword)
    if theirs is None or door.schema(inner) is None:
        return []
    upper = keyword.startswith("max")
    if mine is None or (mine > theirs if upper else mine < theirs):
        return [
            _finding(
                rule,
                door.where(inner, keyword),
                f"{inner.label()} {keyword} {mine} {'>' if upper else '<'} {theirs}"
                f" ({outer.label()})",
            )
        ]
    return []


def _carried(ours: View, theirs: View) -> bool:
    """Every currency `ours` accepts, `theirs` accepts: an enum within theirs, or values that
    all match their pattern, or the same pattern (regular expressions compared as text)."""
    our_enum, their_enum = ours.value("enum"), theirs.value("enum")
    their_pattern = theirs.value("pattern")
    if isinstance(their_enum, list):
        return isinstance(our_enum, list) and set(our_enum) <= set(their_enum)
    if not isinstance(their_pattern, str):
        return True
    if isinstance(our_enum, list):
        return all(isinstance(v, str) and bool(re.search(their_pattern, v)) for v in our_enum)
    return bool(ours.value("pattern") == their_pattern)


def _currency(door: Door) -> list[Finding]:
    ours = door.schema(CURRENCY)
    findings = []
    for downstream in (PAYMENT_CURRENCY, ORDER_CURRENCY):
        theirs = door.schema(downstream)
        if ours is not None and theirs is not None and not _carried(ours, theirs):
            findings.append(
                _finding(
                    "currency-not-carried",
                    ours.loc,
                    f"{CURRENCY.label()} takes what {downstream.label()} may refuse",
                )
            )
    return findings


def door_findings(contracts: Mapping[str, Any]) -> list[Finding]:
    """Every value shop.yaml's placeOrder accepts that a service behind it cannot carry."""
    door = Door(contracts)
    price, findings = _prices(door)
    findings += _amounts(door, price)
    if price is not None:
        for keyword in ("maximum", "minimum"):
            findings += _within(door, "price-outside-orders", price, ORDER_PRICE, keyword)
    for outer in (RESERVED_QUANTITY, ORDER_QUANTITY):
        findings += _within(door, "quantity-over-downstream", QUANTITY, outer, "maximum")
    findings += _within(door, "items-over-downstream", ITEMS, ORDER_ITEMS, "maxItems")
    findings += _currency(door)
    return findings


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
