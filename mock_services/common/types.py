"""Field types shared by the services' schemas, written to match the contracts' JSON Schemas."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import StringConstraints

from mock_services.common.errors import Problem

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"

# Ids are canonical hyphenated UUID strings (any case in, lower case out).
UuidStr = Annotated[str, StringConstraints(strict=True, pattern=UUID_PATTERN)]
Currency = Annotated[str, StringConstraints(strict=True, pattern=CURRENCY_PATTERN)]


def id_path(description: str) -> Any:
    """A UUID path parameter: a malformed id is a 422, not a 404."""
    return Path(pattern=UUID_PATTERN, description=description)


# Statuses every operation can answer (auth, rate limiting, server errors).
COMMON_ERRORS = (401, 429, 500, 502, 503, 504)


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the given statuses plus the common ones, all problem+json."""
    return {status: {"model": Problem} for status in sorted({*statuses, *COMMON_ERRORS})}
