"""Two JSON Schemas compared as a consumer written against the old one sees them.

A REQUEST schema describes what the consumer sends: it may only accept more. A RESPONSE schema
(responses, response headers, events) describes what the consumer reads: it may only promise
less variety. Both sides keep their meaning: format, const, pattern, units in descriptions.
$refs are followed across documents (events share envelope.json and definitions.json); allOf is
merged; a oneOf/anyOf of one schema and null reads as that schema, nullable.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["request", "response"]
REQUEST: Direction = "request"
RESPONSE: Direction = "response"

LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
KEYWORDS = (
    "type",
    "enum",
    "const",
    "format",
    "pattern",
    "default",
    "description",
    *LOWER_BOUNDS,
    *UPPER_BOUNDS,
)
# A description naming one of these states the value's unit; naming another changes its meaning.
UNIT_MARKERS: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE)
    for name, pattern in {
        "minor units": r"\bminor units?\b|\bcents?\b",
        "major units": r"\bmajor units?\b",
        "milliseconds": r"\bmilliseconds?\b|\bms\b",
        "seconds": r"\bseconds?\b",
        "minutes": r"\bminutes?\b",
        "hours": r"\bhours?\b",
        "days": r"\bdays?\b",
        "percent": r"\bpercent(age)?\b|%",
        "basis points": r"\bbasis points?\b|\bbps\b",
        "bytes": r"\bbytes?\b",
        "UTC": r"\bUTC\b",
        "local time": r"\blocal time\b",
    }.items()
}
_MISSING = object()


@dataclass(frozen=True, order=True)
class Loc:
    """Where a node is: a document (path under the repository) and a JSON pointer in it."""

    document: str
    pointer: str

    def child(self, *parts: str | int) -> Loc:
        escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
        return Loc(self.document, "/".join((self.pointer, *escaped)))


@dataclass(frozen=True, order=True)
class Finding:
    """One breaking change: which rule, where (document + pointer), and what it breaks."""

    document: str
    pointer: str
    rule: str
    message: str
    subject: str = ""  # the operation or event type it breaks (documents.py sets it)


class Unresolvable(LookupError):
    """A $ref or pointer that leads nowhere."""


def units(description: Any) -> frozenset[str]:
    """The UNIT_MARKERS a description names."""
    if not isinstance(description, str):
        return frozenset()
    return frozenset(name for name, pattern in UNIT_MARKERS.items() if pattern.search(description))


class Documents:
    """Parsed documents by repository path; follows JSON pointers and $refs between them."""

    def __init__(self, documents: Mapping[str, Any]) -> None:
        self.documents = dict(documents)

    def __contains__(self, document: str) -> bool:
        return document in self.documents

    def get(self, loc: Loc) -> Any:
        if loc.document not in self.documents:
            raise Unresolvable(f"no document {loc.document}")
        node = self.documents[loc.document]
        for raw in loc.pointer.split("/")[1:]:
            part = raw.replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError, TypeError):
                raise Unresolvable(f"{loc.document}#{loc.pointer}") from None
        return node

    def target(self, ref: str, at: Loc) -> Loc:
        """The location a $ref found at `at` points to."""
        file, _, pointer = ref.partition("#")
        if file:
            document = posixpath.normpath(posixpath.join(posixpath.dirname(at.document), file))
        else:
            document = at.document
        return Loc(document, pointer)


@dataclass
class View:
    """A schema with refs followed and allOf merged: each keyword remembers where it is."""

    loc: Loc
    keywords: dict[str, tuple[Any, Loc]] = field(default_factory=dict)
    properties: dict[str, list[Loc]] = field(default_factory=dict)
    required: dict[str, Loc] = field(default_factory=dict)
    closed: Loc | None = None
    items: list[Loc] = field(default_factory=list)
    variants: list[Loc] = field(default_factory=list)
    nullable: bool = False

    def value(self, keyword: str) -> Any:
        return self.keywords[keyword][0] if keyword in self.keywords else _MISSING

    def at(self, keyword: str) -> Loc:
        """The pointer of a keyword (or of the schema when it has none)."""
        return self.keywords[keyword][1].child(keyword) if keyword in self.keywords else self.loc

    @property
    def types(self) -> frozenset[str] | None:
        """The JSON types allowed, null included; None for any."""
        raw = self.value("type")
        if raw is _MISSING:
            return None
        kinds = frozenset([raw] if isinstance(raw, str) else raw)
        return kinds | {"null"} if self.nullable else kinds

    def merge(self, other: View) -> None:
        """allOf: both apply; `other`'s keywords win where both have one (it is the overlay)."""
        self.keywords.update(other.keywords)
        for name, locs in other.properties.items():
            self.properties.setdefault(name, []).extend(locs)
        self.required.update(other.required)
        self.closed = self.closed or other.closed
        self.items.extend(other.items)
        self.variants = other.variants or self.variants
        self.nullable = self.nullable or other.nullable


def view(documents: Documents, locs: Iterable[Loc], depth: int = 0) -> View:
    """One View of the schemas at `locs` applied together (allOf)."""
    if depth > 64:
        raise Unresolvable("$ref cycle")
    result: View | None = None
    for loc in locs:
        node = documents.get(loc)
        if not isinstance(node, dict):
            node = {}
        part = View(loc=loc)
        if "$ref" in node:
            part.merge(view(documents, [documents.target(node["$ref"], loc)], depth + 1))
        for index, _ in enumerate(node.get("allOf", [])):
            part.merge(view(documents, [loc.child("allOf", index)], depth + 1))
        own = View(loc=loc)
        for keyword in KEYWORDS:
            if keyword in node:
                own.keywords[keyword] = (node[keyword], loc)
        for name in node.get("properties", {}):
            own.properties[name] = [loc.child("properties", name)]
        for name in node.get("required", []):
            own.required[name] = loc
        if node.get("additionalProperties") is False:
            own.closed = loc.child("additionalProperties")
        if "items" in node:
            own.items = [loc.child("items")]
        part.merge(own)
        for key in ("oneOf", "anyOf"):
            variants = [loc.child(key, index) for index, _ in enumerate(node.get(key, []))]
            plain = [v for v in variants if documents.get(v) not in ({"type": "null"},)]
            if len(plain) < len(variants):
                part.nullable = True
            if len(plain) == 1:
                inner = view(documents, plain, depth + 1)
                inner.keywords.update({k: v for k, v in part.keywords.items() if k != "type"})
                inner.nullable = inner.nullable or part.nullable
                part = inner
            elif plain:
                part.variants = plain
        if result is None:
            result = part
            result.loc = loc
        else:
            result.merge(part)
    if result is None:
        raise Unresolvable("no schema")
    return result


def covers(wide: frozenset[str] | None, narrow: frozenset[str] | None) -> bool:
    """Every value of type `narrow` is also one of type `wide` (integer is a number)."""
    if wide is None:
        return True
    if narrow is None:
        return False
    return all(t in wide or (t == "integer" and "number" in wide) for t in narrow)


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@dataclass
class Comparison:
    """Compares schema pairs in one direction, collecting findings; each pair once."""

    old: Documents
    new: Documents
    direction: Direction
    findings: list[Finding] = field(default_factory=list)
    _seen: set[tuple[tuple[Loc, ...], tuple[Loc, ...]]] = field(default_factory=set)

    def add(self, rule: str, loc: Loc, message: str) -> None:
        self.findings.append(Finding(loc.document, loc.pointer, rule, message))

    def compare(self, old: Iterable[Loc], new: Iterable[Loc], what: str) -> None:
        old, new = tuple(old), tuple(new)
        if (old, new) in self._seen:
            return
        self._seen.add((old, new))
        try:
            before = view(self.old, old)
        except Unresolvable:
            return  # nothing to compare with
        try:
            after = view(self.new, new)
        except Unresolvable as exc:
            self.add("ref-unresolvable", new[0], f"{what}: {exc} no longer resolves")
            return
        if self._types(before, after, what):
            return  # a different kind of value: its parts are not comparable
        self._enum_and_const(before, after, what)
        self._bounds(before, after, what)
        self._meaning(before, after, what)
        self._object(before, after, what)
        if before.items and after.items:
            self.compare(before.items, after.items, f"{what}[]")
        for index, (old_v, new_v) in enumerate(zip(before.variants, after.variants, strict=False)):
            self.compare([old_v], [new_v], f"{what} (variant {index + 1})")

    def _types(self, before: View, after: View, what: str) -> bool:
        old, new = before.types, after.types
        if self.direction == REQUEST:
            broken = not covers(new, old) or len(after.variants) < len(before.variants)
            rule, verb = "type-narrowed", "accepts"
        else:
            broken = not covers(old, new) or len(after.variants) > len(before.variants)
            rule, verb = "type-widened", "may be"
        if not broken:
            return False
        # Only null came or went: the edit is where the schema is used, not in what it refers to.
        only_null = old is not None and new is not None and (old ^ new) == {"null"}
        loc = after.loc if only_null else after.at("type")
        self.add(rule, loc, f"{what}: {verb} {_types(new, after)} (was {_types(old, before)})")
        return not only_null

    def _enum_and_const(self, before: View, after: View, what: str) -> None:
        old, new = before.value("enum"), after.value("enum")
        if self.direction == REQUEST and new is not _MISSING:
            gone = None if old is _MISSING else [v for v in old if _key(v) not in map(_key, new)]
            if gone is None or gone:
                told = "no longer accepts " + ", ".join(map(_key, gone)) if gone else "now an enum"
                self.add("enum-narrowed", after.at("enum"), f"{what}: {told}")
        if self.direction == RESPONSE and old is not _MISSING:
            came = None if new is _MISSING else [v for v in new if _key(v) not in map(_key, old)]
            if came is None or came:
                told = "may now be " + ", ".join(map(_key, came)) if came else "no longer an enum"
                loc = after.at("enum") if came else before.at("enum")
                self.add("enum-widened", loc, f"{what}: {told}")
        old, new = before.value("const"), after.value("const")
        if (old is _MISSING) != (new is _MISSING) or (
            old is not _MISSING and _key(old) != _key(new)
        ):
            loc = after.at("const") if new is not _MISSING else before.at("const")
            shown = [("-" if v is _MISSING else _key(v)) for v in (old, new)]
            self.add("const-changed", loc, f"{what}: const {shown[0]} -> {shown[1]}")

    def _bounds(self, before: View, after: View, what: str) -> None:
        for keyword in (*LOWER_BOUNDS, *UPPER_BOUNDS):
            old, new = before.value(keyword), after.value(keyword)
            lower = keyword in LOWER_BOUNDS
            if old is not _MISSING and new is not _MISSING and old == new:
                continue
            tighter = new is not _MISSING and (
                old is _MISSING or (new > old if lower else new < old)
            )
            if self.direction == REQUEST and tighter:
                self.add(
                    "range-narrowed",
                    after.at(keyword),
                    f"{what}: {keyword} {_show(old)} -> {_show(new)}",
                )
            if self.direction == RESPONSE and not tighter and old is not _MISSING:
                loc = after.at(keyword) if new is not _MISSING else before.at(keyword)
                self.add("range-widened", loc, f"{what}: {keyword} {_show(old)} -> {_show(new)}")

    def _meaning(self, before: View, after: View, what: str) -> None:
        for keyword, rule in (("format", "format-changed"), ("pattern", "pattern-changed")):
            old, new = before.value(keyword), after.value(keyword)
            changed = old is not _MISSING and new is not _MISSING and old != new
            added = old is _MISSING and new is not _MISSING and self.direction == REQUEST
            removed = new is _MISSING and old is not _MISSING and self.direction == RESPONSE
            if changed or added or removed:
                loc = before.at(keyword) if removed else after.at(keyword)
                self.add(rule, loc, f"{what}: {keyword} {_show(old)} -> {_show(new)}")
        old_units, new = units(before.value("description")), after.value("description")
        if old_units and isinstance(new, str) and units(new) != old_units:
            self.add(
                "unit-changed",
                after.at("description"),
                f"{what}: described in {', '.join(sorted(old_units))}, now in "
                f"{', '.join(sorted(units(new))) or 'no unit'}",
            )
        if self.direction == REQUEST:
            old, new = before.value("default"), after.value("default")
            if old is not _MISSING and (new is _MISSING or _key(old) != _key(new)):
                loc = after.at("default") if new is not _MISSING else before.at("default")
                self.add("default-changed", loc, f"{what}: default {_show(old)} -> {_show(new)}")

    def _object(self, before: View, after: View, what: str) -> None:
        for name, old_locs in before.properties.items():
            if name not in after.properties:
                if self.direction == RESPONSE or after.closed is not None:
                    self.add("field-removed", old_locs[-1], f"{what}.{name} is gone")
                continue
            self.compare(old_locs, after.properties[name], f"{what}.{name}")
        if self.direction == REQUEST:
            for name in sorted(set(after.required) - set(before.required)):
                locs = after.properties.get(name)
                loc = locs[-1] if locs else after.required[name].child("required")
                self.add("required-field-added", loc, f"{what}.{name} is required")
            if after.closed is not None and before.closed is None:
                self.add("extra-fields-refused", after.closed, f"{what}: other fields refused")
        else:
            for name in sorted(set(before.required) - set(after.required)):
                if name in after.properties:
                    loc = after.properties[name][-1]
                    self.add("field-made-optional", loc, f"{what}.{name} may be absent")


def _show(value: Any) -> str:
    return "-" if value is _MISSING else _key(value)


def _types(kinds: frozenset[str] | None, schema: View) -> str:
    if kinds is None:
        return "any type"
    shown = "/".join(sorted(kinds))
    return f"{shown} ({len(schema.variants)} variants)" if schema.variants else shown
