"""Does every value an upstream schema admits fit the downstream schema it flows into?

`refused(up, down)` compares the JSON Schema keywords a value is checked against on both sides
and names each one where the upstream admits what the downstream refuses: type, null, enum and
const, pattern (the same text, or an upstream enum whose values all match), format (the same,
or the pattern that format stands for), numeric bounds (exclusive ones included), lengths and
item counts. Required-ness is the flow's, not the schema's (`Contracts.always_there`).
Regular expressions are compared as text: two different ones that accept the same strings are
reported, a false alarm the table's `guards` can silence with a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tools.compat.flows import Flow
from tools.compat.locate import Contracts, Spot
from tools.compat.schema import Loc, View, covers

UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# A format the contracts use, the pattern that says the same, and the length it implies.
FORMATS: dict[str, tuple[str, int]] = {"uuid": (UUID_PATTERN, 36)}

# (lower, exclusive lower, upper, exclusive upper) of each kind of bound
BOUNDS = (
    ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"),
    ("minLength", None, "maxLength", None),
    ("minItems", None, "maxItems", None),
)
CHECKS: dict[str, str] = {
    "type": "the upstream admits a type the downstream refuses",
    "null": "the upstream admits null, the downstream refuses it",
    "enum": "the upstream admits a value outside the downstream's enum or const",
    "pattern": "the upstream admits strings the downstream's pattern refuses",
    "format": "the upstream does not promise the downstream's format",
    "range": "the upstream admits a number, length or item count outside the downstream's",
    "required": "the downstream requires a value the upstream may leave out",
}


@dataclass(frozen=True)
class Refusal:
    """One way the upstream admits what the downstream refuses: the check (CHECKS), where in
    the upstream contract, and why."""

    check: str
    loc: Loc
    reason: str


def _get(schema: View, keyword: str) -> Any:
    return schema.keywords[keyword][0] if keyword in schema.keywords else None


def _values(schema: View) -> list[Any] | None:
    """The values a schema is limited to (enum or const), or None."""
    if "const" in schema.keywords:
        return [_get(schema, "const")]
    enum = _get(schema, "enum")
    return list(enum) if isinstance(enum, list) else None


def _types(schema: View) -> tuple[frozenset[str] | None, bool]:
    """(the non-null types, None for any; whether null is admitted)."""
    kinds = schema.types
    if kinds is None:
        return None, schema.nullable
    return kinds - {"null"}, "null" in kinds


def _bound(schema: View, inclusive: str, exclusive: str | None, integer: bool, upper: bool) -> Any:
    """The tightest bound of one side as (value, exclusive?), integers made inclusive; a
    length implied by the format or its pattern counts."""
    found: list[tuple[Any, bool]] = []
    if _get(schema, inclusive) is not None:
        found.append((_get(schema, inclusive), False))
    if exclusive and _get(schema, exclusive) is not None:
        value = _get(schema, exclusive)
        found.append((value - 1 if upper else value + 1, False) if integer else (value, True))
    if inclusive in ("minLength", "maxLength"):
        for format_name, (pattern, length) in FORMATS.items():
            if _get(schema, "format") == format_name or _get(schema, "pattern") == pattern:
                found.append((length, False))
    if not found:
        return None
    key = (lambda b: (b[0], not b[1])) if upper else (lambda b: (b[0], b[1]))
    return min(found, key=key) if upper else max(found, key=key)


def _within(up: Any, down: Any, upper: bool) -> bool:
    """An upstream bound no looser than the downstream's (None = unbounded)."""
    if down is None:
        return True
    if up is None:
        return False
    (u, u_excl), (d, d_excl) = up, down
    if upper:
        return u < d or (u == d and (u_excl or not d_excl))
    return u > d or (u == d and (u_excl or not d_excl))


def _show(bound: Any) -> str:
    return "none" if bound is None else f"{'>' if bound[1] else ''}{bound[0]}"


def _bounds(up: View, down: View) -> list[Refusal]:
    found: list[Refusal] = []
    integer = _types(up)[0] == frozenset({"integer"})
    for lower, lower_excl, upper, upper_excl in BOUNDS:
        sides = ((lower, lower_excl, False), (upper, upper_excl, True))
        for inclusive, exclusive, is_upper in sides:
            theirs = _bound(down, inclusive, exclusive, integer, is_upper)
            mine = _bound(up, inclusive, exclusive, integer, is_upper)
            if _within(mine, theirs, is_upper):
                continue
            keyword = exclusive if exclusive and exclusive in up.keywords else inclusive
            relation = ">" if is_upper else "<"
            found.append(
                Refusal(
                    "range",
                    up.at(keyword),
                    f"{inclusive} {_show(mine)} {relation} {_show(theirs)}",
                )
            )
    return found


def _pattern_and_format(up: View, down: View) -> list[Refusal]:
    found: list[Refusal] = []
    values = _values(up)
    pattern = _get(down, "pattern")
    matched = values is not None and all(
        isinstance(v, str) and re.search(str(pattern), v) for v in values
    )
    if isinstance(pattern, str) and _get(up, "pattern") != pattern and not matched:
        shown = _get(up, "pattern") or "none"
        found.append(Refusal("pattern", up.loc, f"pattern {shown} is not {pattern}"))
    wanted = _get(down, "format")
    if isinstance(wanted, str) and _get(up, "format") != wanted:
        implied = FORMATS.get(wanted, (None, 0))[0]
        if implied is None or _get(up, "pattern") != implied:
            shown = _get(up, "format") or "none"
            found.append(Refusal("format", up.loc, f"format {shown} is not {wanted}"))
    return found


def refused(up: View, down: View) -> list[Refusal]:
    """Each way a value `up` admits can be one `down` refuses (empty: it always fits)."""
    found: list[Refusal] = []
    up_types, up_null = _types(up)
    down_types, down_null = _types(down)
    if down_types is not None and not covers(down_types, up_types):
        shown = "any type" if up_types is None else "/".join(sorted(up_types))
        wanted = "/".join(sorted(down_types))
        found.append(Refusal("type", up.at("type"), f"type {shown} is not {wanted}"))
    if up_null and not down_null and down.types is not None:
        found.append(Refusal("null", up.loc, "null is admitted upstream, refused downstream"))
    theirs = _values(down)
    if theirs is not None:
        mine = _values(up)
        outside = None if mine is None else [v for v in mine if v not in theirs]
        if outside is None or outside:
            told = "any value" if outside is None else ", ".join(map(str, outside))
            found.append(Refusal("enum", up.loc, f"{told} admitted, not in {theirs}"))
    return found + _pattern_and_format(up, down) + _bounds(up, down)


def flow_refusals(contracts: Contracts, flow: Flow, upstream: Spot | None = None) -> list[Refusal]:
    """What `flow` (its upstream replaced by `upstream` if given) lets through that the
    downstream refuses, less its guarded checks. Raises LookupError naming the side that
    does not resolve."""
    source = upstream or flow.upstream
    up, down = contracts.schema(source), contracts.schema(flow.downstream)
    for spot, schema in ((source, up), (flow.downstream, down)):
        if schema is None:
            raise LookupError(f"{spot.label()} is not in its contract")
    assert up is not None and down is not None
    found = refused(up, down)
    if contracts.always_there(flow.downstream) and not contracts.always_there(source):
        found.append(Refusal("required", up.loc, "may be left out, the downstream requires it"))
    return [r for r in found if r.check not in flow.guards]
