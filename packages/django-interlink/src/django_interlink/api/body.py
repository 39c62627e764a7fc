"""The checks of a request body that come before any parser reads it for the contract: its size
(413), its encoding, its nesting depth and JSON's non-standard numbers (400).

Python's json parser recurses once per level and raises RecursionError at about a thousand;
the schema validator recurses deeper still. A body nested deeper than MAX_JSON_DEPTH is refused
here, so neither ever meets one. NaN and Infinity are not JSON (RFC 8259) though Python reads
them: refused too, since they would reach the services as numbers.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

from ..conf import ms_settings
from .problems import ApiProblem, MalformedBody, PayloadTooLarge

__all__ = ["BODY_METHODS", "body_problem", "json_depth", "request_body"]

# The methods whose body the API reads; others' bodies are ignored, never refused.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def request_body(request: HttpRequest) -> bytes | None:
    """The body, or None when Django refuses to read it (over DATA_UPLOAD_MAX_MEMORY_SIZE)."""
    try:
        return request.body
    except RequestDataTooBig:
        return None


def json_depth(value: Any) -> int:
    """How many arrays and objects are nested in `value` at its deepest (0 for a scalar)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _not_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


def body_problem(request: HttpRequest) -> ApiProblem | None:
    """Why this request's body is refused before the contract is checked, or None."""
    if request.method not in BODY_METHODS:
        return None
    conf = ms_settings.API
    limit = int(conf["MAX_BODY_BYTES"])
    body = request_body(request)
    if body is None or len(body) > limit:
        return PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    if not body or not _is_json(request.content_type or ""):
        return None  # a missing body or another media type is the contract's to answer
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return MalformedBody("The request body is not valid UTF-8.")
    max_depth = int(conf["MAX_JSON_DEPTH"])
    try:
        value = json.loads(text, parse_constant=_not_json_constant)
    except RecursionError:
        return MalformedBody(f"The request body nests deeper than {max_depth} levels.")
    except ValueError as exc:
        return MalformedBody(f"The request body is not valid JSON: {exc}.")
    if json_depth(value) > max_depth:
        return MalformedBody(f"The request body nests deeper than {max_depth} levels.")
    return None
