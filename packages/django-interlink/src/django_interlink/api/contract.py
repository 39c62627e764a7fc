"""The API's own contract, checked on the server: each request before its view runs, each
response before it leaves (INTERLINK['API']['CONTRACT'], e.g. "shop.yaml").

openapi-core does the checking with the clients' fast set-up (clients/openapi.py); this module
only turns its findings into the problem every API error is: 401 without credentials, 404 for a
malformed id in the path, 400 without an Idempotency-Key or with a body that is not JSON, 415 for
another media type, else a 422 listing every invalid input.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match
from openapi_core.deserializing.media_types.exceptions import MediaTypeDeserializeError
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.validation.request.exceptions import (
    MissingRequestBodyError,
    MissingRequiredParameter,
    ParameterValidationError,
    RequestBodyValidationError,
    SecurityValidationError,
)
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue

from ..clients.contract import Call, OpenAPIRequest, OpenAPIResponse
from ..clients.openapi import load_openapi
from ..conf import ms_settings
from .body import request_body
from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .problems import (
    ApiProblem,
    IdempotencyKeyMissing,
    MalformedBody,
    NotFound,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)

__all__ = ["ApiContract", "api_contract", "configured_contract"]

BODY = "body"


def _schema_errors(exc: BaseException) -> list[SchemaError]:
    cause = exc.__cause__
    if isinstance(cause, InvalidSchemaValue):
        return [e for e in cause.schema_errors if isinstance(e, SchemaError)]
    return []


def _leaf(error: SchemaError) -> SchemaError:
    """The most telling error under a oneOf/anyOf/allOf."""
    while error.context:
        deepest = best_match(error.context)
        if deepest is None:
            break
        error = deepest
    return error


def _field(error: SchemaError) -> str:
    parts = [str(p) for p in error.absolute_path]
    required: Any = error.validator_value
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [n for n in required if n not in error.instance]
        parts += missing[:1]
    return ".".join(parts) or BODY


def _entries(exc: BaseException) -> list[dict[str, str]]:
    """One errors[] entry per invalid input found in one openapi-core error."""
    schema_errors = _schema_errors(exc)
    if isinstance(exc, ParameterValidationError):
        message = _leaf(schema_errors[0]).message if schema_errors else str(exc)
        return [{"field": exc.name, "message": message}]
    if isinstance(exc, MissingRequestBodyError):
        return [{"field": BODY, "message": "A request body is required."}]
    if schema_errors:
        return [
            {"field": _field(leaf), "message": leaf.message}
            for leaf in (_leaf(e) for e in schema_errors)
        ]
    return [{"field": BODY, "message": str(exc)}]


def _refusal(errors: Sequence[Exception]) -> ApiProblem | None:
    """The problem to answer for openapi-core's findings, most fundamental first."""
    if not errors:
        return None
    for exc in errors:
        if isinstance(exc, SecurityValidationError):
            return Unauthorized()
    for exc in errors:
        if isinstance(exc, PathNotFound):
            return NotFound("No resource has this URL.")
        if isinstance(exc, ParameterValidationError) and exc.location == "path":
            return NotFound("No resource has this URL.")
    for exc in errors:
        if isinstance(exc, MissingRequiredParameter) and exc.name == IDEMPOTENCY_HEADER:
            return IdempotencyKeyMissing()
        if isinstance(exc, RequestBodyValidationError):
            if isinstance(exc.__cause__, MediaTypeNotFound):
                return UnsupportedMediaType()
            if isinstance(exc.__cause__, MediaTypeDeserializeError):
                return MalformedBody()
    entries = [entry for exc in errors for entry in _entries(exc)]
    return ValidationFailed(errors=entries)


def _call(request: HttpRequest) -> Call:
    return Call(
        method=request.method or "GET",
        path=request.path,
        query=request.META.get("QUERY_STRING", ""),
        headers=dict(request.headers),
        body=request_body(request) or b"",
        content_type=request.META.get("CONTENT_TYPE", ""),
    )


class ApiContract:
    """One API's parsed contract, with openapi-core's validators built once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.openapi = load_openapi(path)

    def check_request(self, request: HttpRequest) -> ApiProblem | None:
        """The problem to answer instead of running the view, or None to run it.

        A method the path does not offer is left to the view, which answers 405 with Allow.
        """
        result = self.openapi.unmarshal_request(OpenAPIRequest(_call(request)))
        errors = [e for e in result.errors if not isinstance(e, OperationNotFound)]
        return _refusal(errors)

    def check_response(self, request: HttpRequest, response: HttpResponseBase) -> str | None:
        """What in `response` breaks the contract, or None (also for undocumented requests)."""
        openapi_request = OpenAPIRequest(_call(request))
        content = getattr(response, "content", b"")
        openapi_response = OpenAPIResponse(response.status_code, dict(response.items()), content)
        result = self.openapi.unmarshal_response(openapi_request, openapi_response)
        for exc in result.errors:
            if isinstance(exc, PathNotFound | OperationNotFound):
                return None
        if not result.errors:
            return None
        found = []
        for exc in result.errors:
            schema_errors = _schema_errors(exc)
            where = "; ".join(f"{_field(_leaf(e))}: {_leaf(e).message}" for e in schema_errors)
            found.append(f"{exc}" + (f" ({where})" if where else ""))
        return "; ".join(found)


@functools.cache
def api_contract(path: str) -> ApiContract:
    return ApiContract(Path(path))


def configured_contract() -> ApiContract | None:
    """The contract INTERLINK['API']['CONTRACT'] names (relative to CONTRACTS_DIR), if any."""
    name = ms_settings.API["CONTRACT"]
    if not name:
        return None
    path = Path(name)
    if not path.is_absolute():
        path = ms_settings.contracts_dir / path
    return api_contract(str(path))
