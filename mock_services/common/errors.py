"""RFC 9457 problem details: the one error shape of every stub, and the handlers producing it."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import SkipJsonSchema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

PROBLEM_MEDIA_TYPE = "application/problem+json"
ERROR_TYPE_BASE = "https://errors.example.com/"
REQUEST_ID_SCOPE_KEY = "mock_services.request_id"
# Set when the request was refused before the operation ran (routing, parsing, validation):
# such answers are not stored under an Idempotency-Key.
NOT_EXECUTED_SCOPE_KEY = "mock_services.not_executed"

logger = logging.getLogger("mock_services")


class FieldError(BaseModel):
    """One invalid input: where it is (dotted path, or a parameter name) and what is wrong."""

    model_config = ConfigDict(extra="forbid")

    field: str
    message: str


class Problem(BaseModel):
    """The problem+json body (closed: no extension members)."""

    model_config = ConfigDict(extra="forbid")

    type: str
    title: str
    status: int
    detail: str
    # Omitted rather than null on the wire, so the schema does not offer null.
    instance: str | SkipJsonSchema[None] = None
    errors: list[FieldError] | SkipJsonSchema[None] = None


class ProblemError(Exception):
    """Raise anywhere in a stub to answer with a problem+json response."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})


def status_slug(status: int) -> str:
    """`HTTPStatus(503).phrase` -> `service-unavailable`: a stable type URI for generic statuses."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return f"http-{status}"
    return phrase.lower().replace(" ", "-").replace("'", "")


def problem_response(
    status: int,
    slug: str,
    detail: str,
    *,
    instance: str | None = None,
    title: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Build the problem+json response (also used by the pure ASGI middlewares)."""
    try:
        default_title = HTTPStatus(status).phrase
    except ValueError:
        default_title = "Error"
    body = Problem(
        type=ERROR_TYPE_BASE + slug,
        title=title or default_title,
        status=status,
        detail=detail,
        instance=instance,
        errors=list(errors) if errors is not None else None,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status,
        headers=dict(headers or {}),
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _field_name(loc: Iterable[Any]) -> str:
    parts = [str(part) for part in loc]
    if len(parts) > 1 and parts[0] in {"body", "path", "query", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_field_errors(exc: RequestValidationError) -> list[FieldError]:
    """FastAPI's validation errors as `[{field, message}]`."""
    return [
        FieldError(field=_field_name(error.get("loc", ())), message=str(error.get("msg", "")))
        for error in exc.errors()
    ]


def _with_request_id(request: Request, response: Response) -> Response:
    request_id = request.scope.get(REQUEST_ID_SCOPE_KEY)
    if isinstance(request_id, str):
        response.headers["X-Request-ID"] = request_id
    return response


async def _problem_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.status,
        exc.slug,
        exc.detail,
        instance=request.url.path,
        title=exc.title,
        errors=exc.errors,
        headers=exc.headers,
    )


async def _validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    request.scope[NOT_EXECUTED_SCOPE_KEY] = True
    if any(error.get("type") == "json_invalid" for error in exc.errors()):
        return problem_response(
            400, "malformed-body", "The request body is not valid JSON.", instance=request.url.path
        )
    return problem_response(
        422,
        "validation-error",
        "The request does not match the contract.",
        instance=request.url.path,
        errors=validation_field_errors(exc),
    )


_HTTP_EXCEPTION_SLUGS = {400: "malformed-body", 404: "not-found", 405: "method-not-allowed"}


async def _http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    request.scope[NOT_EXECUTED_SCOPE_KEY] = True
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    headers = dict(exc.headers or {})
    if status == 404 and detail == "Not Found":
        detail = f"Nothing exists at {request.url.path}."
    if status == 405:
        allowed = allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        detail = f"{request.method} is not supported here; use {', '.join(allowed)}."
    return problem_response(
        status,
        _HTTP_EXCEPTION_SLUGS.get(status, status_slug(status)),
        detail,
        instance=request.url.path,
        headers=headers,
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette reports only the first route's)."""
    methods: set[str] = set()
    for route in request.app.state.runtime.routes:
        match, _ = route.matches({**request.scope, "method": "\0"})
        if match != Match.NONE:
            methods.update(route.methods or ())
    return sorted(methods)


async def _unhandled_error_handler(request: Request, exc: Exception) -> Response:
    # ServerErrorMiddleware sits outside the request-id middleware, so echo the id here.
    logger.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    response = problem_response(
        500, status_slug(500), "The service failed unexpectedly.", instance=request.url.path
    )
    return _with_request_id(request, response)


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves the app as problem+json."""
    app.add_exception_handler(ProblemError, _problem_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(Exception, _unhandled_error_handler)
