"""RFC 9457 problem details: the one shape of every error the API answers.

An endpoint raises an `ApiProblem` leaf; `problem_response` turns it into
`application/problem+json` whose `type` is a URI under PROBLEM_BASE (as the stubs' errors).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from django.http import HttpResponse

__all__ = [
    "PROBLEM_BASE",
    "PROBLEM_JSON",
    "ApiProblem",
    "Forbidden",
    "IdempotencyKeyInUse",
    "IdempotencyKeyMissing",
    "IdempotencyKeyReused",
    "InternalError",
    "MalformedBody",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "ValidationFailed",
    "problem",
    "problem_response",
]

PROBLEM_BASE = "https://errors.example.com/"
PROBLEM_JSON = "application/problem+json"


class ApiProblem(Exception):
    """An error answer: status, kind (the last part of `type`), detail, extra headers."""

    status = 500
    kind = "internal-server-error"
    default_detail = "The application failed unexpectedly."

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail = detail or self.default_detail
        self.errors = errors
        self.headers = dict(headers or {})
        super().__init__(self.detail)


class MalformedBody(ApiProblem):
    status, kind = 400, "malformed-body"
    default_detail = "The request body is not valid JSON."


class IdempotencyKeyMissing(ApiProblem):
    status, kind = 400, "idempotency-key-missing"
    default_detail = "This operation requires an Idempotency-Key header."


class Unauthorized(ApiProblem):
    status, kind = 401, "unauthorized"
    default_detail = "A valid bearer token is required."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="api"'})


class Forbidden(ApiProblem):
    status, kind = 403, "forbidden"
    default_detail = "This account may not do this."


class NotFound(ApiProblem):
    status, kind = 404, "not-found"
    default_detail = "The resource does not exist."


class MethodNotAllowed(ApiProblem):
    status, kind = 405, "method-not-allowed"

    def __init__(self, method: str, allowed: list[str]) -> None:
        super().__init__(
            f"{method} is not allowed here; use {', '.join(allowed)}.",
            headers={"Allow": ", ".join(allowed)},
        )


class IdempotencyKeyInUse(ApiProblem):
    status, kind = 409, "idempotency-key-in-use"
    default_detail = "A request with this Idempotency-Key is still being processed; retry later."


class PayloadTooLarge(ApiProblem):
    status, kind = 413, "payload-too-large"
    default_detail = "The request body is larger than this API accepts."


class UnsupportedMediaType(ApiProblem):
    status, kind = 415, "unsupported-media-type"
    default_detail = "The request body must be application/json."


class ValidationFailed(ApiProblem):
    status, kind = 422, "validation-error"
    default_detail = "The request does not match the contract."


class IdempotencyKeyReused(ApiProblem):
    status, kind = 422, "idempotency-key-reused"
    default_detail = "This Idempotency-Key was already used with a different request body."


class TooManyRequests(ApiProblem):
    status, kind = 429, "too-many-requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many requests with this token; retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


class InternalError(ApiProblem):
    """The default status and kind: the application failed."""


def problem(
    status: int, kind: str, detail: str, *, title: str | None = None, instance: str | None = None
) -> dict[str, Any]:
    """A problem object (for a response body, or embedded in a resource)."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + kind,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    return body


def problem_response(error: ApiProblem, *, instance: str) -> HttpResponse:
    body = problem(error.status, error.kind, error.detail, instance=instance)
    if error.errors is not None:
        body["errors"] = error.errors
    response = HttpResponse(json.dumps(body), status=error.status, content_type=PROBLEM_JSON)
    for name, value in error.headers.items():
        response[name] = value
    return response
