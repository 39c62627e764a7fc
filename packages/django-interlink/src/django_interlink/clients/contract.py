"""Contract validation of service calls against `contracts/<service>.yaml`.

Both sides of the wire are checked, so neither a bad request nor a drifted response passes
unnoticed. A request is checked before it is sent, its response (success or problem+json error)
when it comes back; any mismatch raises `ContractViolation` naming the operationId and the
offending field, e.g. `inventory.createReservation request: quantity: -1 is less than the
minimum of 1`. Each contract is parsed once per process (openapi.py makes its validators fast).
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from django.core.exceptions import ImproperlyConfigured
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.validation.request.exceptions import (
    MissingRequestBodyError,
    ParameterValidationError,
    SecurityValidationError,
)
from openapi_core.validation.response.exceptions import HeaderValidationError
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from werkzeug.datastructures import Headers, ImmutableMultiDict

from ..conf import ms_settings
from ..exceptions import ContractViolation
from ..http_statuses import UNAVAILABLE_STATUSES
from .openapi import HOST, load_openapi
from .responses import BODY

MODES = ("on", "sampled", "off")


@dataclass(frozen=True)
class Call:
    """One HTTP exchange as the contract sees it: method, path relative to the base URL, etc."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] | None = None
    body: bytes | None = None
    content_type: str = ""


class OpenAPIRequest:
    """openapi-core's Request protocol over a `Call`."""

    host_url = HOST

    def __init__(self, call: Call) -> None:
        self.method = call.method.lower()
        self.path = call.path
        self.body = call.body
        self.content_type = call.content_type or ""
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(call.query, keep_blank_values=True)),
            header=Headers(dict(call.headers or {})),
            cookie=ImmutableMultiDict(),
        )


class OpenAPIResponse:
    """openapi-core's Response protocol."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status_code = status
        self.headers = Headers(dict(headers))
        self.content_type = self.headers.get("Content-Type", "")
        self.data = body


def _json_path(parts: Iterable[Any]) -> str:
    """['items', 0, 'quantity'] -> 'items[0].quantity'."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_QUOTED = re.compile(r"'([^']+)'")


def _field_of(error: SchemaError) -> tuple[str, str]:
    """The offending field's path and a message, digging into oneOf/anyOf/required errors."""
    if error.context:
        deepest = best_match(error.context)
        if deepest is not None:
            return _field_of(deepest)
    path = list(error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        required: Any = error.validator_value
        missing = [name for name in required if name not in instance]
        if missing:
            return _json_path([*path, missing[0]]), f"{missing[0]!r} is a required property"
    if error.validator in {"additionalProperties", "unevaluatedProperties"}:
        extra = _QUOTED.findall(error.message)
        if extra:
            return _json_path([*path, extra[0]]), error.message
    return (_json_path(path) or BODY), error.message


def _schema_errors(exc: BaseException) -> list[SchemaError]:
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, InvalidSchemaValue):
        return [e for e in cause.schema_errors if isinstance(e, SchemaError)]
    return []


def _locate(exc: BaseException) -> tuple[str | None, str]:
    """(field, reason) of an openapi-core validation error."""
    if isinstance(exc, ParameterValidationError):
        errors = _schema_errors(exc)
        reason = errors[0].message if errors else str(exc)
        return exc.name, f"{exc.location} parameter: {reason}"
    if isinstance(exc, SecurityValidationError):
        return "Authorization", "no credentials the contract accepts (is API_KEY set?)"
    if isinstance(exc, HeaderValidationError):
        errors = _schema_errors(exc)
        return exc.name, errors[0].message if errors else str(exc)
    if isinstance(exc, MissingRequestBodyError):
        return BODY, str(exc)
    errors = _schema_errors(exc)
    if errors:
        best = best_match(errors)
        field, reason = _field_of(best if best is not None else errors[0])
        if len(errors) > 1:
            reason += f" (and {len(errors) - 1} more error(s))"
        return field, reason
    cause = exc.__cause__
    detail = f"{exc}: {cause}" if cause is not None and str(cause) not in str(exc) else str(exc)
    return BODY, detail


class ServiceContract:
    """The parsed OpenAPI document of one service, with cached validators."""

    def __init__(self, service: str, path: Path) -> None:
        self.service = service
        self.path = path
        self.openapi = load_openapi(path)

    @functools.lru_cache(maxsize=512)  # noqa: B019  (one contract object per process)
    def operation_id(self, method: str, path: str) -> str | None:
        """The operationId that serves `method path`, or None if the contract has no such route."""
        finder = self.openapi.request_validator.path_finder  # type: ignore[attr-defined]
        try:
            found = finder.find(method.lower(), HOST + path)
        except PathError:
            return None
        operation = found.operation
        if "operationId" not in operation:
            return None
        return str((operation / "operationId").read_str())

    def _violation(
        self, operation: str, direction: str, exc: BaseException | None, **kwargs: Any
    ) -> ContractViolation:
        field, reason = _locate(exc) if exc is not None else (None, "")
        message = f"{self.service}.{operation} {direction}: {field}: {reason}"
        return ContractViolation(
            message, field=field, service=self.service, operation=operation, **kwargs
        )

    def check_request(self, call: Call, *, operation: str | None = None) -> str:
        """Validate an outgoing request; returns its operationId. Raises ContractViolation."""
        found = self.operation_id(call.method, call.path)
        if found is None:
            raise ContractViolation(
                f"{self.service}: {call.method} {call.path} is not an operation of the contract"
                f" ({self.path.name})",
                service=self.service,
                operation=operation,
            )
        if operation is not None and operation != found:
            raise ContractViolation(
                f"{self.service}: the client calls {call.method} {call.path} {operation!r}, "
                f"the contract names it {found!r}",
                service=self.service,
                operation=operation,
            )
        try:
            self.openapi.validate_request(OpenAPIRequest(call))
        except Exception as exc:
            raise self._violation(found, "request", exc) from exc
        return found

    def check_response(
        self,
        call: Call,
        *,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        operation: str | None = None,
        response: Any = None,
    ) -> None:
        """Validate a response to `call`, problem+json errors included. Raises ContractViolation."""
        op = operation or self.operation_id(call.method, call.path) or f"{call.method} {call.path}"
        try:
            self.openapi.validate_response(
                OpenAPIRequest(call), OpenAPIResponse(status, headers, body)
            )
        except ResponseNotFound as exc:
            if status in UNAVAILABLE_STATUSES:
                return
            raise ContractViolation(
                f"{self.service}.{op} response: status {status} is not documented",
                field="status",
                service=self.service,
                operation=op,
                status_code=status,
                response=response,
            ) from exc
        except Exception as exc:
            raise self._violation(
                op, f"response {status}", exc, status_code=status, response=response
            ) from exc


@functools.lru_cache(maxsize=32)
def load_contract(service: str, path: str) -> ServiceContract:
    """Parse a contract once per process (keyed by service and file)."""
    return ServiceContract(service, Path(path))


def contract_path(service: str) -> Path:
    return ms_settings.contracts_dir / f"{service}.yaml"


def contract_for(service: str) -> ServiceContract:
    """The cached contract of `service` from CONTRACTS_DIR."""
    path = contract_path(service)
    if not path.is_file():
        raise ImproperlyConfigured(
            f"no contract for service {service!r}: {path} does not exist (system check E010); "
            "add it, fix CONTRACTS_DIR, or set CONTRACT_VALIDATION to 'off'"
        )
    return load_contract(service, str(path))


def should_validate() -> bool:
    """Whether this call is validated, per CONTRACT_VALIDATION ("on" | "sampled" | "off")."""
    mode = ms_settings.CONTRACT_VALIDATION
    if mode == "on":
        return True
    if mode == "sampled":
        return random.random() < float(ms_settings.CONTRACT_SAMPLE_RATE)
    return False
