"""Payloads from the event schemas: valid ones drawn by Hypothesis (derandomized, so every run
sends the same), invalid ones made from a valid one by breaking one field.

The strategies are built here from the schema keywords our event schemas use (type, const,
properties, required, additionalProperties, allOf, anyOf, items, minItems, minLength, maxLength,
minimum, maximum, pattern): hypothesis-jsonschema 0.23.1 does not run on the Hypothesis we have (its
object strategy calls `many.more()`, which Hypothesis 6.170 no longer has). A keyword outside
that list raises, so a schema that grows one cannot be fuzzed with less than it says; and each
payload is checked against the schema with jsonschema before it is used.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from integration_tests.asyncapi_live.document import Message, inlined, payload_errors

HANDLED = {
    "type", "const", "properties", "required", "additionalProperties", "allOf", "anyOf",
    "items", "minItems", "minLength", "maxLength", "minimum", "maximum", "pattern",
    "description", "title",
}  # fmt: skip
# Named fields keep their schema; a few extra ones test the tolerant reader (`data` allows them).
EXTRA_KEYS = st.text(st.characters(codec="ascii", categories=["Ll"]), min_size=1, max_size=8)
EXTRA_VALUES = st.none() | st.booleans() | st.integers() | st.text(max_size=20)


def _merge(base: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """The conjunction of two schemas, for the shapes allOf takes in ours (an envelope and the
    event's pins on it): properties merged name by name, required lists joined."""
    merged = {**base, **more}
    if "properties" in base and "properties" in more:
        names = {**base["properties"], **more["properties"]}
        merged["properties"] = {
            name: _merge(base["properties"].get(name, {}), more["properties"].get(name, {}))
            for name in names
        }
    merged["required"] = sorted({*base.get("required", []), *more.get("required", [])})
    if not merged["required"]:
        del merged["required"]
    return merged


def strategy(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid against `schema` (refs already inlined)."""
    unknown = set(schema) - HANDLED
    if unknown:
        raise ValueError(f"no generator for the schema keyword(s) {sorted(unknown)}")
    if "allOf" in schema:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            merged = _merge(part, merged)
        return strategy(merged)
    if "const" in schema:
        return st.just(schema["const"])
    if "anyOf" in schema:
        return st.one_of([strategy(option) for option in schema["anyOf"]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([strategy({**schema, "type": one}) for one in kind])
    if kind == "object":
        return _object(schema)
    if kind == "array":
        return st.lists(strategy(schema["items"]), min_size=schema.get("minItems", 0), max_size=3)
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        if "pattern" in schema:
            texts = st.from_regex(schema["pattern"], fullmatch=True)
            return texts.filter(lambda s: low <= len(s) and (high is None or len(s) <= high))
        return st.text(min_size=low, max_size=high)
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    raise ValueError(f"no generator for the schema type {kind!r}")


def _object(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    named = st.fixed_dictionaries(
        {name: strategy(sub) for name, sub in properties.items() if name in required},
        optional={name: strategy(sub) for name, sub in properties.items() if name not in required},
    )
    if schema.get("additionalProperties") is False:
        return named
    extras = st.dictionaries(
        EXTRA_KEYS.filter(lambda key: key not in properties), EXTRA_VALUES, max_size=2
    )
    return st.tuples(named, extras).map(lambda pair: {**pair[1], **pair[0]})


def valid_payloads(msg: Message, count: int) -> list[dict[str, Any]]:
    """`count` distinct valid payloads of the message (the same on every run), each with a new
    event id: the schema's ids are drawn, and a consumer deduplicates on them."""
    drawn: list[dict[str, Any]] = []

    @settings(
        max_examples=count * 5,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy(inlined(msg.schema_file)))
    def draw(payload: dict[str, Any]) -> None:
        if len(drawn) < count and payload not in drawn:
            drawn.append(payload)

    draw()
    payloads = [{**payload, "event_id": str(uuid.uuid4())} for payload in drawn]
    for payload in payloads:
        errors = payload_errors(msg, payload)
        if errors:
            raise AssertionError(f"the generator drew an invalid {msg.name}: {errors}")
    return payloads


@dataclass(frozen=True)
class Invalid:
    """A payload broken in one field of `data`, and how."""

    payload: dict[str, Any]
    field: str
    how: str  # "missing", "wrong type", "out of range"


def invalid_payloads(msg: Message, valid: dict[str, Any]) -> list[Invalid]:
    """Up to three breaks of one valid payload: a required field of `data` dropped, one given
    the wrong type, one outside its constraint (pattern, minimum, minLength or minItems).
    Each is checked to be invalid against the schema."""
    schema = inlined(msg.schema_file)["properties"]["data"]
    properties, required = schema["properties"], schema["required"]
    broken: list[Invalid] = []

    def data_with(field: str, value: Any = ...) -> dict[str, Any]:
        payload = copy.deepcopy(valid)
        payload["event_id"] = str(uuid.uuid4())
        if value is ...:
            del payload["data"][field]
        else:
            payload["data"][field] = value
        return payload

    broken.append(Invalid(data_with(required[0]), required[0], "missing"))
    # Spread the breaks over different fields where the schema has them.
    typed = [n for n in required if properties[n].get("type") != "object"][-1]
    wrong = {"string": 12345, "integer": "12345", "array": {"not": "a list"}}
    kind = properties[typed].get("type", "string")
    broken.append(Invalid(data_with(typed, wrong.get(kind, [])), typed, "wrong type"))
    for name in sorted(required, key=lambda n: n in (required[0], typed)):
        value = _out_of_range(properties[name])
        if value is not None:
            broken.append(Invalid(data_with(name, value), name, "out of range"))
            break
    for invalid in broken:
        if not payload_errors(msg, invalid.payload):
            raise AssertionError(f"{msg.name}: {invalid.how} {invalid.field} is still valid")
    return broken


def _out_of_range(schema: dict[str, Any]) -> Any:
    if "pattern" in schema:
        return "not-" + "x" * max(0, schema.get("minLength", 0))
    if "minimum" in schema:
        return schema["minimum"] - 1
    if "minLength" in schema and schema["minLength"] > 0:
        return ""
    if "minItems" in schema and schema["minItems"] > 0:
        return []
    return None
