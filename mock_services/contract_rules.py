"""House rules for the contracts beyond being valid OpenAPI 3.1 (verify.py and the tests use them).

Each rule returns human-readable violations; an empty list means the contract complies.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from mock_services.common.app import SERVICE_NAMES

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
REQUIRED_ERROR_STATUSES = ("401", "500")
# What the stubs' fault injection (/__control) can make any operation answer. The Django app's
# own API (shop.yaml) calls no service while answering, so it documents none of them.
FAULT_STATUSES = ("429", "502", "503", "504")
_CAMEL_CASE = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)*$")


def contract_paths() -> list[Path]:
    """Every OpenAPI document under contracts/ (not the event contracts, not tool settings).

    pathlib's glob matches hidden files: contracts/.spectral.yaml is the linter's ruleset.
    """
    return sorted(p for p in CONTRACTS_DIR.glob("*.yaml") if not p.name.startswith("."))


def is_stub_contract(path: Path) -> bool:
    """A stub service's contract (shop.yaml is the Django app's own)."""
    return path.stem in SERVICE_NAMES


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow local `$ref`s (one document, JSON pointers under #/)."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) for every operation."""
    for path, item in document.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


def _parameters(document: dict[str, Any], path: str, operation: dict[str, Any]) -> list[Any]:
    shared = document["paths"][path].get("parameters", [])
    return [resolve(document, p) for p in [*shared, *operation.get("parameters", [])]]


def _object_schemas(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            yield where, node
        for key, value in node.items():
            yield from _object_schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _object_schemas(value, f"{where}/{index}")


def violations(document: dict[str, Any], *, stub: bool = True) -> list[str]:
    """Every house-rule violation of one contract (`stub`: a stub's, with the fault statuses)."""
    required = (*REQUIRED_ERROR_STATUSES, *FAULT_STATUSES) if stub else REQUIRED_ERROR_STATUSES
    found: list[str] = []
    operation_ids: set[str] = set()
    global_security = document.get("security", [])
    for path, method, operation in operations(document):
        label = f"{method.upper()} {path}"
        operation_id = operation.get("operationId", "")
        if not _CAMEL_CASE.match(operation_id):
            found.append(f"{label}: operationId {operation_id!r} is not camelCase")
        operation_ids.add(operation_id)
        security = operation.get("security", global_security)
        if {"bearerAuth": []} not in security:
            found.append(f"{label}: bearerAuth security is not required")
        names = {(p["in"], p["name"]) for p in _parameters(document, path, operation)}
        if ("header", "X-Request-ID") not in names:
            found.append(f"{label}: no X-Request-ID header parameter")
        if method == "post" and ("header", "Idempotency-Key") not in names:
            found.append(f"{label}: POST without an Idempotency-Key header parameter")
        responses = operation.get("responses", {})
        for status in required:
            if status not in responses:
                found.append(f"{label}: no {status} response")
        if "requestBody" in operation and "400" not in responses:
            found.append(f"{label}: has a body but no 400 (malformed body) response")
        for status, response in responses.items():
            response = resolve(document, response)
            headers = response.get("headers", {})
            if "X-Request-ID" not in headers:
                found.append(f"{label} {status}: no X-Request-ID response header")
            media_types = set(response.get("content", {}))
            if status.startswith(("4", "5")) and media_types != {"application/problem+json"}:
                found.append(f"{label} {status}: errors must be application/problem+json")
            if status == "429" and "Retry-After" not in headers:
                found.append(f"{label} 429: no Retry-After header")
    for path, method, operation in operations(document):
        for status, response in operation.get("responses", {}).items():
            for name, link in resolve(document, response).get("links", {}).items():
                if link.get("operationId") not in operation_ids:
                    target = link.get("operationId")
                    found.append(f"{method.upper()} {path} {status}: link {name} -> {target}?")
    for where, schema in _object_schemas(document.get("components", {}).get("schemas", {}), ""):
        if schema.get("additionalProperties") is not False:
            found.append(f"schema #/components/schemas{where}: not closed (additionalProperties)")
    return found
