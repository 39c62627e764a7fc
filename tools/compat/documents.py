"""What a consumer relies on in the contracts, BASE against the working tree.

OpenAPI: every operation (method + path; path parameters match whatever their names), its
parameters, request body and responses with their headers. Events: every event type (one
schema file contracts/events/schemas/<type>.v<N>.json, read as a consumer reads it) and the
AsyncAPI document's channels and their messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tools.compat.schema import (
    REQUEST,
    RESPONSE,
    Comparison,
    Documents,
    Finding,
    Loc,
    Unresolvable,
    units,
)

CONTRACTS = "contracts"
ASYNCAPI = "contracts/events/asyncapi.yaml"
EVENT_SCHEMAS = "contracts/events/schemas"
EVENT_FILE = re.compile(r"^(?P<type>[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)\.v(?P<version>\d+)\.json$")
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def is_contract(path: str) -> bool:
    """The files the gate reads: OpenAPI documents, the AsyncAPI document, event schemas."""
    folder, _, name = path.rpartition("/")
    if name.startswith("."):
        return False
    return (
        (folder == CONTRACTS and name.endswith(".yaml"))
        or path == ASYNCAPI
        or (folder == EVENT_SCHEMAS and name.endswith(".json"))
    )


@dataclass
class Result:
    """One thing a consumer uses (an operation, an event type) and what breaks it."""

    document: str
    subject: str
    findings: list[Finding] = field(default_factory=list)
    # (method, path template with "{}" for each parameter) when the subject is an operation
    operation: tuple[str, str] | None = None


def compare_trees(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Result]:
    """Every operation and event type of `old` (parsed documents by path) checked against `new`."""
    old_docs, new_docs = Documents(old), Documents(new)
    results: list[Result] = []
    for path in sorted(old):
        document = old[path]
        if path.startswith(f"{CONTRACTS}/") and path.count("/") == 1:
            if isinstance(document, dict) and "openapi" in document:
                results.extend(_openapi(path, old_docs, new_docs))
        elif path.startswith(f"{EVENT_SCHEMAS}/"):
            match = EVENT_FILE.match(path.rpartition("/")[2])
            if match:
                label = f"{match['type']} v{match['version']}"
                results.append(_event(path, label, old_docs, new_docs))
        elif path == ASYNCAPI:
            results.append(_asyncapi(old_docs, new_docs))
    return results


def _subject(result: Result, findings: list[Finding]) -> Result:
    result.findings = sorted({replace(f, subject=result.subject) for f in findings})
    return result


# --- OpenAPI ---------------------------------------------------------------------------------


def _operations(docs: Documents, path: str) -> dict[tuple[str, str], tuple[Loc, dict[str, Any]]]:
    if path not in docs:
        return {}
    found = {}
    for template, item in docs.get(Loc(path, "")).get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                key = (method, re.sub(r"\{[^}]*\}", "{}", template))
                found[key] = (Loc(path, "").child("paths", template, method), item[method])
    return found


def _deref(docs: Documents, loc: Loc) -> Loc:
    """Follow a $ref chain to the object it names."""
    for _ in range(32):
        node = docs.get(loc)
        if not (isinstance(node, dict) and "$ref" in node):
            return loc
        loc = docs.target(node["$ref"], loc)
    raise Unresolvable(f"$ref cycle at {loc.document}#{loc.pointer}")


def _parameters(docs: Documents, op_loc: Loc) -> dict[tuple[str, str], Loc]:
    path_item = Loc(op_loc.document, op_loc.pointer.rpartition("/")[0])
    found: dict[tuple[str, str], Loc] = {}
    for owner in (path_item, op_loc):  # operation parameters override the path's
        for index, _ in enumerate(docs.get(owner).get("parameters", [])):
            loc = _deref(docs, owner.child("parameters", index))
            parameter = docs.get(loc)
            name = parameter["name"].lower() if parameter["in"] == "header" else parameter["name"]
            found[(parameter["in"], name)] = loc
    return found


def _unit_change(docs: tuple[Documents, Documents], old: Loc, new: Loc, what: str) -> list[Finding]:
    """unit-changed on a parameter's or header's own description (not its schema's)."""
    before, after = docs[0].get(old).get("description"), docs[1].get(new).get("description")
    if units(before) and isinstance(after, str) and units(after) != units(before):
        loc = new.child("description")
        message = f"{what}: described in {', '.join(sorted(units(before)))}, now otherwise"
        return [Finding(loc.document, loc.pointer, "unit-changed", message)]
    return []


def _openapi(path: str, old: Documents, new: Documents) -> Iterator[Result]:
    new_operations = _operations(new, path)
    for key, (op_loc, operation) in _operations(old, path).items():
        method = key[0]
        label = f"{operation.get('operationId', '?')} ({method.upper()} {_template(op_loc)})"
        result = Result(path, label, operation=key)
        if key not in new_operations:
            gone = Finding(path, op_loc.pointer, "operation-removed", f"{label} is gone")
            yield _subject(result, [gone])
            continue
        try:
            findings = list(_operation(old, new, op_loc, new_operations[key][0]))
        except Unresolvable as exc:
            loc = new_operations[key][0]
            findings = [Finding(loc.document, loc.pointer, "ref-unresolvable", str(exc))]
        yield _subject(result, findings)


def _template(op_loc: Loc) -> str:
    return op_loc.pointer.split("/")[2].replace("~1", "/").replace("~0", "~")


def _operation(old: Documents, new: Documents, old_op: Loc, new_op: Loc) -> Iterator[Finding]:
    docs = (old, new)
    requests = Comparison(old, new, REQUEST)
    responses = Comparison(old, new, RESPONSE)
    before, after = _parameters(old, old_op), _parameters(new, new_op)
    for key, loc in after.items():
        required = bool(new.get(loc).get("required"))
        was_required = key in before and bool(old.get(before[key]).get("required"))
        if required and not was_required:
            yield Finding(
                loc.document,
                loc.pointer,
                "parameter-required-added",
                f"{key[0]} parameter {key[1]} is required",
            )
    for key, loc in before.items():
        if key in after:
            what = f"{key[0]} parameter {key[1]}"
            requests.compare([loc.child("schema")], [after[key].child("schema")], what)
            yield from _unit_change(docs, loc, after[key], what)
    yield from _body(old, new, old_op, new_op, requests)
    old_responses = old.get(old_op).get("responses", {})
    new_responses = new.get(new_op).get("responses", {})
    for status in old_responses:
        old_loc = _deref(old, old_op.child("responses", status))
        if status not in new_responses:
            yield Finding(
                old_op.document,
                old_op.child("responses", status).pointer,
                "status-removed",
                f"response {status} is gone",
            )
            continue
        new_loc = _deref(new, new_op.child("responses", status))
        yield from _content(old, new, old_loc, new_loc, responses, f"response {status}")
        yield from _headers(docs, old_loc, new_loc, responses, f"response {status}")
    yield from requests.findings
    yield from responses.findings


def _body(
    old: Documents, new: Documents, old_op: Loc, new_op: Loc, requests: Comparison
) -> Iterator[Finding]:
    had, has = "requestBody" in old.get(old_op), "requestBody" in new.get(new_op)
    old_loc = _deref(old, old_op.child("requestBody")) if had else None
    new_loc = _deref(new, new_op.child("requestBody")) if has else None
    was_required = old_loc is not None and bool(old.get(old_loc).get("required"))
    if new_loc is not None and new.get(new_loc).get("required") and not was_required:
        loc = new_loc.child("required")
        yield Finding(loc.document, loc.pointer, "body-required", "the request body is required")
    if old_loc is not None and new_loc is not None:
        yield from _content(old, new, old_loc, new_loc, requests, "request body")


def _content(
    old: Documents, new: Documents, old_loc: Loc, new_loc: Loc, comparison: Comparison, what: str
) -> Iterator[Finding]:
    after = new.get(new_loc).get("content", {})
    for media_type in old.get(old_loc).get("content", {}):
        loc = old_loc.child("content", media_type)
        if media_type not in after:
            yield Finding(
                loc.document, loc.pointer, "media-type-removed", f"{what}: {media_type} is gone"
            )
            continue
        if "schema" in old.get(loc):
            comparison.compare(
                [loc.child("schema")], [new_loc.child("content", media_type, "schema")], what
            )


def _headers(
    docs: tuple[Documents, Documents], old_loc: Loc, new_loc: Loc, responses: Comparison, what: str
) -> Iterator[Finding]:
    old, new = docs
    after = {name.lower(): name for name in new.get(new_loc).get("headers", {})}
    for name in old.get(old_loc).get("headers", {}):
        header = _deref(old, old_loc.child("headers", name))
        if name.lower() not in after:
            loc = old_loc.child("headers", name)
            yield Finding(
                loc.document, loc.pointer, "header-removed", f"{what}: header {name} is gone"
            )
            continue
        new_header = _deref(new, new_loc.child("headers", after[name.lower()]))
        if old.get(header).get("required") and not new.get(new_header).get("required"):
            loc = new_loc.child("headers", after[name.lower()])
            yield Finding(
                loc.document,
                loc.pointer,
                "field-made-optional",
                f"{what}: header {name} may be absent",
            )
        responses.compare(
            [header.child("schema")], [new_header.child("schema")], f"{what} header {name}"
        )
        yield from _unit_change(docs, header, new_header, f"{what} header {name}")


# --- events ----------------------------------------------------------------------------------


def _event(path: str, label: str, old: Documents, new: Documents) -> Result:
    result = Result(path, label)
    if path not in new:
        return _subject(result, [Finding(path, "", "event-removed", f"event {label} is gone")])
    reading = Comparison(old, new, RESPONSE)  # a consumer reads events
    reading.compare([Loc(path, "")], [Loc(path, "")], label)
    return _subject(result, reading.findings)


def _channels(docs: Documents) -> dict[str, tuple[Loc, set[str]]]:
    """Channel address -> (its location, the names of its messages)."""
    if ASYNCAPI not in docs:
        return {}
    found = {}
    for key, channel in (docs.get(Loc(ASYNCAPI, "")).get("channels") or {}).items():
        loc = Loc(ASYNCAPI, "").child("channels", key)
        names = set()
        for message_key in channel.get("messages", {}):
            message = docs.get(_deref(docs, loc.child("messages", message_key)))
            names.add(message.get("name", message_key))
        found[channel.get("address", key)] = (loc, names)
    return found


def _asyncapi(old: Documents, new: Documents) -> Result:
    result = Result(ASYNCAPI, "AsyncAPI channels and messages")
    findings = []
    after = _channels(new)
    for address, (loc, messages) in _channels(old).items():
        if address not in after:
            findings.append(
                Finding(ASYNCAPI, loc.pointer, "event-removed", f"channel {address} is gone")
            )
            continue
        for name in sorted(messages - after[address][1]):
            findings.append(
                Finding(
                    ASYNCAPI,
                    loc.child("messages").pointer,
                    "event-removed",
                    f"channel {address}: message {name} is gone",
                )
            )
    return _subject(result, findings)
