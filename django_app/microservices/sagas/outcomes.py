"""What a saga step's service call did: APPLIED (with the id), ABSENT, or UNKNOWN.

A step records each call's outcome in the saga context before and after it runs. A timeout, a
lost or malformed response, or a crash leaves it UNKNOWN; the compensation then replays the
action's own call under its own Idempotency-Key, and the service answers with what it did the
first time (or does it now, to be undone), so nothing is charged, held or ordered twice or left
behind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..exceptions import (
    ContractViolation,
    ServiceConnectionError,
    ServiceHTTPError,
    ServiceTimeoutError,
)

APPLIED, ABSENT, UNKNOWN = "applied", "absent", "unknown"

T = TypeVar("T")


def in_flight(exc: ServiceHTTPError) -> bool:
    """The idempotency draft's 409: a request with this key is still being processed."""
    problem_type = str(exc.problem.get("type", ""))
    return exc.status_code == 409 and problem_type.endswith("idempotency-key-in-use")


def tracked(record: dict[str, Any], call: Callable[[], T]) -> T:
    """Run one service call and record whether it was applied, not applied, or unknown."""
    try:
        result = call()
    except ServiceHTTPError as exc:
        status = exc.status_code or 0
        if in_flight(exc):
            record["state"] = UNKNOWN
        elif status >= 500 or status in (408, 429):
            # Not stored by the service and not done, unless an earlier attempt under the
            # same key is still unaccounted for.
            if record.get("state") != UNKNOWN:
                record["state"] = ABSENT
        else:
            record["state"] = ABSENT  # a stored 4xx: final for this key
        raise
    except (ServiceTimeoutError, ServiceConnectionError, ContractViolation):
        record["state"] = UNKNOWN
        raise
    record["state"] = APPLIED
    record["id"] = result["id"] if isinstance(result, dict) else None
    return result


def resolve(record: dict[str, Any], replay: Callable[[], dict[str, Any]]) -> str | None:
    """The id of what the action did, replaying its call under its key when unknown."""
    state = record.get("state")
    if state == APPLIED:
        return str(record["id"])
    if state == ABSENT:
        return None
    try:
        result = replay()
    except ServiceHTTPError as exc:
        status = exc.status_code or 0
        if in_flight(exc) or status >= 500 or status in (408, 429):
            raise  # still unknown: the compensation is retried
        record["state"] = ABSENT
        return None
    record.update(state=APPLIED, id=result["id"])
    return str(result["id"])
