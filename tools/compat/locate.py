"""Places in the contracts a value passes through, and the schema found at each.

A `Spot` names one value: an OpenAPI operation's request body, response or parameter, or an
event's payload, then the properties down to the value (`[]` steps into an array's items).
`Contracts` resolves a spot to its schema (refs followed, allOf merged: `schema.View`) and says
whether the value is always there (required along the last step, or given a default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tools.compat.schema import Documents, Loc, Unresolvable, View, view

SHOP, PAYMENTS = "contracts/shop.yaml", "contracts/payments.yaml"
INVENTORY, ORDERS = "contracts/inventory.yaml", "contracts/orders.yaml"
USERS = "contracts/users.yaml"
EVENT = "event"  # Spot.part of an event's payload
PARAMETER = "parameter"  # Spot.part of an operation's parameter (path[0] is its name)


def event_schema(event_type: str, version: int = 1) -> str:
    """The document of an event type's payload schema."""
    return f"contracts/events/schemas/{event_type}.v{version}.json"


@dataclass(frozen=True)
class Spot:
    """One value in a contract: `document`, `operation` (an operationId, or the event type),
    `part` ("request", a response status, PARAMETER or EVENT) and the path to the value."""

    document: str
    operation: str
    part: str
    path: tuple[str, ...]

    def label(self) -> str:
        return f"{self.document.rpartition('/')[2]} {self.operation} {'.'.join(self.path)}"

    @property
    def pointer(self) -> str:
        """The path as the report shows it: /items/[]/quantity."""
        return "/" + "/".join(self.path)


class Contracts:
    """The contracts by repository path, read through $refs and allOf."""

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

    def _parameter(self, spot: Spot) -> Loc | None:
        op = self._operation(spot.document, spot.operation)
        node = self.docs.get(op)
        item = Loc(op.document, op.pointer.rsplit("/", 1)[0])
        for where, params in ((op, node), (item, self.docs.get(item))):
            for index, _ in enumerate(params.get("parameters", [])):
                loc = self._deref(where.child("parameters", index))
                if self.docs.get(loc).get("name") == spot.path[0]:
                    return loc
        return None

    def _root(self, spot: Spot) -> Loc | None:
        if spot.part == EVENT:
            return Loc(spot.document, "") if spot.document in self.docs else None
        if spot.part == PARAMETER:
            found = self._parameter(spot)
            return None if found is None else found.child("schema")
        op = self._operation(spot.document, spot.operation)
        where = ("requestBody",) if spot.part == "request" else ("responses", spot.part)
        try:
            body = self._deref(op.child(*where))
            self.docs.get(body.child("content", "application/json", "schema"))
        except Unresolvable:
            return None
        return body.child("content", "application/json", "schema")

    def _walk(self, spot: Spot) -> tuple[View | None, View | None]:
        """(the schema at the spot's parent, at the spot); None where the contract has none."""
        root = self._root(spot)
        if root is None:
            return None, None
        path = spot.path[1:] if spot.part == PARAMETER else spot.path
        parent, current = None, view(self.docs, [root])
        for step in path:
            locs = current.items if step == "[]" else current.properties.get(step)
            if not locs:
                return current, None
            parent, current = current, view(self.docs, locs)
        return parent, current

    def schema(self, spot: Spot) -> View | None:
        """The schema at `spot`, or None where the contract has no such value."""
        return self._walk(spot)[1]

    def always_there(self, spot: Spot) -> bool:
        """Whether every valid message carries the value: required (or defaulted) at the last
        step; an array's items and a whole body always are."""
        if spot.part == PARAMETER:
            found = self._parameter(spot)
            return found is not None and bool(self.docs.get(found).get("required"))
        parent, current = self._walk(spot)
        if current is None:
            return False
        if parent is None or spot.path[-1] == "[]" or "default" in current.keywords:
            return True
        return spot.path[-1] in parent.required

    def bound(self, spot: Spot, keyword: str) -> Any:
        schema = self.schema(spot)
        return None if schema is None else schema.keywords.get(keyword, (None,))[0]

    def where(self, spot: Spot, keyword: str) -> Loc:
        schema = self.schema(spot)
        return Loc(spot.document, "") if schema is None else schema.at(keyword)
