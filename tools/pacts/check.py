"""The bi-directional check: every interaction of every pact against the provider's own contract.

A consumer's pact says what it sends and what it relies on; the provider's OpenAPI or AsyncAPI
document says what it accepts and promises. An interaction fails when its request is one the
contract refuses, when it expects a status the operation does not list, a response the schema
refuses, or a field or header the contract does not declare (open schemas would let that
through validation: the field walk catches it). A message pact may expect part of an event
(what its consumer reads): its fields must then be valid where they are and each one required
by the event's schema, since the consumer relies on every one of them. Validation uses the
project's own cached validators: `django_interlink.clients.contract` for OpenAPI,
`django_interlink.events.contract` for the AsyncAPI document. Each finding names the pact, the
interaction and the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jsonschema import Draft202012Validator

from django_interlink.clients.contract import Call, ServiceContract, load_contract
from django_interlink.clients.openapi import HOST
from django_interlink.events.contract import EventContract
from django_interlink.exceptions import ContractViolation, EventContractViolation

HTTP = "Synchronous/HTTP"
MESSAGE = "Asynchronous/Messages"
# Consumers whose message pacts hold only what their code reads (tools/pacts/checkout.py).
PARTIAL_CONSUMERS = "checkout-"
# Headers HTTP itself carries: not the contract's to declare.
TRANSPORT_HEADERS = frozenset({"content-type", "content-length"})


@dataclass(frozen=True)
class Finding:
    pact: str
    interaction: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.pact} | {self.interaction} | {self.field}: {self.reason}"


def content_of(part: dict[str, Any]) -> Any:
    """The body of a pact's request, response or message, decoded when it is JSON."""
    body = part.get("body") or part.get("contents") or {}
    content = body.get("content")
    if isinstance(content, str) and "json" in str(body.get("contentType", "")):
        return json.loads(content)
    return content


def _first(values: Any) -> str:
    return str(values[0] if isinstance(values, list) else values)


def _branches(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield schema
    for key in ("allOf", "oneOf", "anyOf"):
        for branch in schema.get(key, []):
            yield from _branches(branch)


def undeclared(value: Any, schema: dict[str, Any], where: str = "") -> Iterator[str]:
    """Paths in `value` that `schema` does not declare (properties, items, through combinators)."""
    if isinstance(value, dict):
        # A key declared by several branches (the envelope's `data` and the event's) is
        # declared by any of them.
        properties: dict[str, list[Any]] = {}
        for branch in _branches(schema):
            for key, item_schema in branch.get("properties", {}).items():
                properties.setdefault(key, []).append(item_schema)
        for key, item in value.items():
            path = f"{where}.{key}" if where else key
            if key not in properties:
                yield path
            else:
                yield from undeclared(item, {"anyOf": properties[key]}, path)
    elif isinstance(value, list):
        items = [b["items"] for b in _branches(schema) if isinstance(b.get("items"), dict)]
        for index, item in enumerate(value):
            if items:
                yield from undeclared(item, {"anyOf": items}, f"{where}[{index}]")


def _optional(node: Any) -> Any:
    """A schema with every `required` dropped: a part of a message validates where it is."""
    if isinstance(node, dict):
        return {key: _optional(value) for key, value in node.items() if key != "required"}
    if isinstance(node, list):
        return [_optional(value) for value in node]
    return node


def unpromised(value: Any, schema: dict[str, Any], where: str = "") -> Iterator[str]:
    """Paths of the object fields in `value` that `schema` does not require (through
    combinators: required by any branch is required)."""
    if not isinstance(value, dict):
        return
    required = {name for branch in _branches(schema) for name in branch.get("required", [])}
    properties: dict[str, list[Any]] = {}
    for branch in _branches(schema):
        for key, item_schema in branch.get("properties", {}).items():
            properties.setdefault(key, []).append(item_schema)
    for key, item in value.items():
        path = f"{where}.{key}" if where else key
        if key not in required:
            yield path
        yield from unpromised(item, {"anyOf": properties.get(key, [])}, path)


def _resolved(node: Any, depth: int = 0) -> Any:
    """A SchemaPath as plain data, refs resolved (jsonschema-path resolves them as it reads);
    deep enough for our schemas, bounded in case one refers to itself."""
    with node.open() as raw:
        if depth > 40:
            return {}
        if isinstance(raw, dict):
            return {str(key): _resolved(node / key, depth + 1) for key in raw}
        if isinstance(raw, list):
            return [_resolved(node / index, depth + 1) for index in range(len(raw))]
        return raw


def check_http(name: str, interaction: dict[str, Any], contract: ServiceContract) -> list[Finding]:
    what = interaction["description"]
    request, response = interaction["request"], interaction["response"]
    method, path = request["method"].upper(), request["path"]
    query = urlencode({k: _first(v) for k, v in (request.get("query") or {}).items()})
    headers = {k: _first(v) for k, v in (request.get("headers") or {}).items()}
    body = content_of(request)
    raw = None if body is None else json.dumps(body).encode()
    call = Call(method, path, query, headers, raw, headers.get("Content-Type", "application/json"))
    try:
        operation = contract.check_request(call)
    except ContractViolation as exc:
        return [Finding(name, what, exc.field or "request", exc.message)]
    found = contract.openapi.request_validator.path_finder.find(  # type: ignore[attr-defined]
        method.lower(), HOST + path
    )
    responses = found.operation / "responses"
    status = str(response["status"])
    if status not in responses and "default" not in responses:
        listed = ", ".join(sorted(str(k) for k in _resolved(responses)))
        reason = f"{operation} does not list status {status} (it lists {listed})"
        return [Finding(name, what, "status", reason)]
    documented = responses / (status if status in responses else "default")
    findings: list[Finding] = []
    out_headers = {k: _first(v) for k, v in (response.get("headers") or {}).items()}
    headers_doc = _resolved(documented / "headers") if "headers" in documented else {}
    declared = {str(h).lower() for h in headers_doc}
    for header in out_headers:
        if header.lower() not in declared | TRANSPORT_HEADERS:
            reason = f"{operation} {status} does not declare this response header"
            findings.append(Finding(name, what, f"header {header}", reason))
    payload = content_of(response)
    raw_out = b"" if payload is None else json.dumps(payload).encode()
    try:
        contract.check_response(
            call, status=int(status), headers=out_headers, body=raw_out, operation=operation
        )
    except ContractViolation as exc:
        findings.append(Finding(name, what, exc.field or "response", exc.message))
    ctype = out_headers.get("Content-Type", "application/json").split(";")[0]
    if payload is not None and "content" in documented and ctype in (documented / "content"):
        schema = _resolved(documented / "content" / ctype / "schema")
        reported = {finding.field for finding in findings}
        for field in undeclared(payload, schema):
            if field in reported:  # a closed schema's validation named it already
                continue
            reason = f"{operation} {status} response does not declare it"
            findings.append(Finding(name, what, field, reason))
    return findings


def _partial(name: str, what: str, payload: dict[str, Any], schema: Any) -> list[Finding]:
    """A part of an event: valid where it has values, and every field it has required."""
    event_type, version = payload.get("event_type"), payload.get("version")
    if not isinstance(schema, dict):
        return [Finding(name, what, "<body>", f"no schema for {event_type} v{version}")]
    errors = sorted(Draft202012Validator(_optional(schema)).iter_errors(payload), key=str)
    if errors:
        where = ".".join(map(str, errors[0].absolute_path)) or "(root)"
        reason = f"{event_type} v{version}: {where}: {errors[0].message}"
        return [Finding(name, what, "<body>", reason)]
    reason = f"{event_type} v{version} may leave it out"
    return [Finding(name, what, path, reason) for path in unpromised(payload, schema)]


def check_message(
    name: str, interaction: dict[str, Any], events: EventContract, *, partial: bool = False
) -> list[Finding]:
    what = interaction["description"]
    payload = content_of(interaction)
    if not isinstance(payload, dict):
        return [Finding(name, what, "<body>", "the message is not a JSON object")]
    event_type, version = payload.get("event_type"), payload.get("version")
    findings: list[Finding] = []
    if partial:
        findings += _partial(name, what, payload, events.schema(str(event_type), int(str(version))))
        if any(f.field == "<body>" for f in findings):
            return findings
    else:
        try:
            events.validate(payload)
        except EventContractViolation as exc:
            return [Finding(name, what, "<body>", str(exc))]
    findings += [
        Finding(name, what, field, f"{event_type} v{version} does not declare it")
        for field in undeclared(payload, events.schema(str(event_type), int(str(version))) or {})
    ]
    channels = events.document.get("channels", {}).values()
    addresses = {channel.get("address") for channel in channels}
    routing_key = (interaction.get("metadata") or {}).get("routingKey")
    if routing_key is not None and (routing_key != event_type or routing_key not in addresses):
        reason = f"{routing_key!r} is not the AsyncAPI channel of {event_type}"
        findings.append(Finding(name, what, "metadata.routingKey", reason))
    return findings


def check_pact(path: Path, contracts_dir: Path, events: EventContract) -> list[Finding]:
    """Every interaction of the pact at `path`; [] when the provider's contract promises all."""
    pact = json.loads(path.read_text())
    provider = pact["provider"]["name"]
    findings: list[Finding] = []
    for interaction in pact.get("interactions", []):
        kind = interaction.get("type")
        if kind == HTTP:
            document = contracts_dir / f"{provider}.yaml"
            if not document.is_file():
                reason = f"no OpenAPI document {document.name} for provider {provider}"
                return [Finding(path.name, interaction["description"], "provider", reason)]
            contract = load_contract(provider, str(document))
            findings += check_http(path.name, interaction, contract)
        elif kind == MESSAGE:
            partial = pact["consumer"]["name"].startswith(PARTIAL_CONSUMERS)
            findings += check_message(path.name, interaction, events, partial=partial)
        else:
            reason = f"interaction type {kind!r} is not checked"
            findings.append(Finding(path.name, interaction["description"], "type", reason))
    return findings


def check_all(pacts_dir: Path, contracts_dir: Path) -> tuple[int, int, list[Finding]]:
    """(pacts, interactions, findings) for every pact in `pacts_dir`."""
    events = EventContract(contracts_dir / "events")
    files = sorted(pacts_dir.glob("*.json"))
    interactions = sum(len(json.loads(f.read_text()).get("interactions", [])) for f in files)
    findings = [finding for f in files for finding in check_pact(f, contracts_dir, events)]
    return len(files), interactions, findings
