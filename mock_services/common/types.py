"""Field types shared by the services' schemas, written to match the contracts' JSON Schemas."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BeforeValidator, StringConstraints
from starlette.convertors import Convertor, register_url_convertor

from mock_services.common.errors import Problem

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"

# Ids are canonical hyphenated UUID strings (any case in, lower case out).
UuidStr = Annotated[str, StringConstraints(strict=True, pattern=UUID_PATTERN)]
Currency = Annotated[str, StringConstraints(strict=True, pattern=CURRENCY_PATTERN)]


def _integral_float_to_int(value: object) -> object:
    # JSON Schema counts 3.0 as an integer, so the contract allows it; "3" and true stay errors.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Put after the constraints: Annotated[int, Field(strict=True, ge=.., le=..), INTEGRAL]
# (after, so the JSON Schema keeps minimum/maximum). Strict: "3" and true are refused.
INTEGRAL = BeforeValidator(_integral_float_to_int)


class IdConvertor(Convertor[str]):
    """`{name:id}` matches only canonical UUIDs (lower-cased), so `/users/search` is its own
    resource and a malformed id is a 404 like any path that names nothing."""

    regex = UUID_PATTERN[1:-1]

    def convert(self, value: str) -> str:
        return value.lower()

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("id", IdConvertor())


def id_path(description: str) -> Any:
    """A UUID path parameter; routes spell it `{name:id}` (the pattern documents the convertor)."""
    return Path(pattern=UUID_PATTERN, description=description)


# Statuses every operation can answer (auth, rate limiting, server errors).
COMMON_ERRORS = (401, 429, 500, 502, 503, 504)


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the given statuses plus the common ones, all problem+json."""
    return {status: {"model": Problem} for status in sorted({*statuses, *COMMON_ERRORS})}
