"""Drift: each stub's FastAPI app and its hand-written contract describe the same API.

Compared both ways, per service: operations (path + method), operationIds, security, parameters
(location, name, required, schema with constraints), request bodies (schema with constraints),
response status codes, success media types and response bodies (fields, required, types,
nullability, closedness).
The control plane under /__control is test-only and excluded on purpose.
"""

from __future__ import annotations

from typing import Any

import pytest

from mock_services.common import create_app
from mock_services.common.faults import CONTROL_PREFIX
from mock_services.contract_rules import CONTRACTS_DIR, load, operations, resolve

SERVICES = ("users", "orders", "payments", "inventory")
CONSTRAINTS = (
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
)


def shape(doc: dict[str, Any], schema: Any, *, constraints: bool) -> dict[str, Any]:
    """A schema reduced to what both sides must agree on, with nullability spelled one way."""
    schema = resolve(doc, schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            variants = [resolve(doc, variant) for variant in schema[key]]
            non_null = [variant for variant in variants if variant.get("type") != "null"]
            if len(non_null) == 1:
                merged = {k: v for k, v in schema.items() if k != key} | non_null[0]
                result = shape(doc, merged, constraints=constraints)
                result["nullable"] = result["nullable"] or len(non_null) < len(variants)
                return result
            return {key: [shape(doc, v, constraints=constraints) for v in variants]}
    kind = schema.get("type")
    nullable = False
    if isinstance(kind, list):
        nullable = "null" in kind
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else tuple(kinds)
    out: dict[str, Any] = {"type": kind, "nullable": nullable}
    if "const" in schema:
        out["enum"] = [schema["const"]]
    if "enum" in schema:
        out["enum"] = sorted(schema["enum"])
    if kind == "object" or "properties" in schema:
        out["type"] = "object"
        out["properties"] = {
            name: shape(doc, sub, constraints=constraints)
            for name, sub in schema.get("properties", {}).items()
        }
        out["required"] = sorted(schema.get("required", []))
        out["closed"] = schema.get("additionalProperties") is False
    if kind == "array":
        out["items"] = shape(doc, schema.get("items", {}), constraints=constraints)
    if constraints:
        out.update({key: schema[key] for key in CONSTRAINTS if key in schema})
        if schema.get("default") is not None:
            out["default"] = schema["default"]
    return out


def describe(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every operation of an OpenAPI document (control plane excluded), normalised."""
    described: dict[tuple[str, str], dict[str, Any]] = {}
    for path, method, operation in operations(doc):
        if path.startswith(CONTROL_PREFIX):
            continue
        parameters = {}
        shared = doc["paths"][path].get("parameters", [])
        for parameter in [*shared, *operation.get("parameters", [])]:
            parameter = resolve(doc, parameter)
            schema = shape(doc, parameter["schema"], constraints=True)
            schema.pop("nullable")  # an optional parameter is absent, never null
            key = f"{parameter['in']}:{parameter['name'].lower()}"
            parameters[key] = {"required": parameter.get("required", False), "schema": schema}
        body = None
        if "requestBody" in operation:
            request_body = resolve(doc, operation["requestBody"])
            body = {
                "required": request_body.get("required", False),
                "content": {
                    media_type: shape(doc, content["schema"], constraints=True)
                    for media_type, content in request_body["content"].items()
                },
            }
        responses = {}
        for status, response in operation.get("responses", {}).items():
            content = resolve(doc, response).get("content", {})
            schemas = {
                media_type: shape(doc, c["schema"], constraints=False)
                for media_type, c in content.items()
            }
            # FastAPI labels every declared error response application/json; the contract's
            # problem+json is enforced by the house rules and the unit tests instead.
            if status.startswith("2") or not schemas:
                responses[status] = schemas
            else:
                responses[status] = next(iter(schemas.values()))
        described[(path, method)] = {
            "operationId": operation.get("operationId"),
            "security": operation.get("security", doc.get("security")),
            "parameters": parameters,
            "requestBody": body,
            "responses": responses,
        }
    return described


def differences(served: dict[Any, Any], contract: dict[Any, Any], where: str = "") -> list[str]:
    """Human-readable differences between two normalised descriptions, both ways."""
    found: list[str] = []
    if isinstance(served, dict) and isinstance(contract, dict):
        for key in sorted(set(served) | set(contract), key=str):
            label = f"{where}/{key}"
            if key not in contract:
                found.append(f"{label}: served by the stub, missing from the contract")
            elif key not in served:
                found.append(f"{label}: in the contract, not served by the stub")
            else:
                found.extend(differences(served[key], contract[key], label))
    elif served != contract:
        found.append(f"{where}: stub has {served!r}, contract has {contract!r}")
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_stub_and_contract_do_not_drift(service):
    """The stub serves exactly the contract's operations, parameters, statuses and fields."""
    served = describe(create_app(service, token="drift-test").openapi())
    contract = describe(load(CONTRACTS_DIR / f"{service}.yaml"))
    assert differences(served, contract) == []


def test_drift_check_reports_a_missing_response_field():
    """The comparison itself notices a field the contract lacks (guards against a vacuous test)."""
    served = describe(create_app("users", token="drift-test").openapi())
    contract_doc = load(CONTRACTS_DIR / "users.yaml")
    del contract_doc["components"]["schemas"]["User"]["properties"]["name"]
    contract = describe(contract_doc)
    assert any("/properties/name: served by the stub" in d for d in differences(served, contract))


def test_drift_check_excludes_only_the_control_plane():
    """The stub's OpenAPI does list /__control routes; the drift comparison leaves them out."""
    spec = create_app("users", token="drift-test").openapi()
    assert any(path.startswith(CONTROL_PREFIX) for path in spec["paths"])
    assert all(not path.startswith(CONTROL_PREFIX) for path, _ in describe(spec))
