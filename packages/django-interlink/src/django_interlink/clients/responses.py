"""What a service's answer becomes: a `ServiceResponse` with parsed data, or a typed error.

The status alone picks the exception class (one table, `ERRORS_BY_STATUS`); the
body (RFC 9457 problem+json) only supplies its message and payload. Callers catch
`ResourceNotFound` or `ServiceUnavailable`, never inspect status codes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from ..exceptions import (
    ContractViolation,
    PaymentDeclined,
    ResourceConflict,
    ResourceNotFound,
    ServiceAuthError,
    ServiceHTTPError,
    ServiceUnavailable,
    UnprocessableEntity,
)
from ..http_statuses import UNAVAILABLE_STATUSES
from ..request_id import HEADER as REQUEST_ID_HEADER

ACCEPT = "application/json, application/problem+json;q=0.9"
REPLAYED_HEADER = "Idempotent-Replayed"
BODY = "<body>"  # the `field` of an error about the body as a whole

ERRORS_BY_STATUS: dict[int, type[ServiceHTTPError]] = {
    401: ServiceAuthError,
    402: PaymentDeclined,
    403: ServiceAuthError,
    404: ResourceNotFound,
    409: ResourceConflict,
    422: UnprocessableEntity,
    429: ServiceUnavailable,
}


def error_class_for(status: int) -> type[ServiceHTTPError]:
    """The typed error for an error status (5xx -> ServiceUnavailable)."""
    if status in ERRORS_BY_STATUS:
        return ERRORS_BY_STATUS[status]
    return ServiceUnavailable if status >= 500 else ServiceHTTPError


@dataclass(frozen=True)
class ServiceResponse:
    """A successful (2xx/3xx) call: parsed body plus what the caller may want to log or check."""

    status_code: int
    data: Any
    headers: Mapping[str, str] = field(repr=False)
    operation: str
    request_id: str
    duration_ms: float
    attempts: int
    replayed: bool


def parse_body(response: requests.Response) -> Any:
    """JSON (incl. problem+json) as Python data, other text as str, no body as None."""
    if not response.content:
        return None
    ctype = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        return json.loads(response.content)
    return response.text


def read_response(
    response: requests.Response,
    *,
    service: str,
    operation: str,
    request_id: str,
    duration_ms: float,
    attempts: int,
    cause: BaseException | None = None,
    sent_unanswered: bool = False,
) -> ServiceResponse:
    """The parsed response, or the typed error its status stands for (raised from `cause`).

    `sent_unanswered`: an earlier attempt of this call may have reached the service unanswered,
    which an error answer to the last one does not settle.
    """
    status = response.status_code
    context: dict[str, Any] = {
        "service": service,
        "operation": operation,
        "status_code": status,
        "response": response,
    }
    try:
        data = parse_body(response)
    except ValueError as exc:
        if status in UNAVAILABLE_STATUSES:
            data = response.text
        else:
            raise ContractViolation(
                f"{service}.{operation} response {status}: {BODY}: not valid JSON",
                field=BODY,
                sent_unanswered=True,  # an answer we cannot read
                **context,
            ) from exc
    if status >= 400:
        problem = data if isinstance(data, dict) else {}
        title = problem.get("title") or response.reason or ""
        detail = problem.get("detail")
        message = f"{service}.{operation} -> {status} {title}" + (f": {detail}" if detail else "")
        raise error_class_for(status)(
            message, payload=data, sent_unanswered=sent_unanswered, **context
        ) from cause
    return ServiceResponse(
        status_code=status,
        data=data,
        headers=response.headers,
        operation=operation,
        request_id=response.headers.get(REQUEST_ID_HEADER, request_id),
        duration_ms=duration_ms,
        attempts=attempts,
        replayed=response.headers.get(REPLAYED_HEADER, "").lower() == "true",
    )
