"""What a saga step's service call did: APPLIED (with the id), ABSENT, or UNKNOWN.

A step records each call's outcome in the saga context before and after it runs. A timeout, a
lost or malformed response, or a crash leaves it UNKNOWN; the compensation then replays the
action's own call under its own Idempotency-Key, and the service answers with what it did the
first time (or does it now, to be undone), so nothing is charged, held or ordered twice or left
behind. What only the replay saw, the action never announced: `resolve` hands its answer to
`on_applied`, where the compensation publishes the action's event (`StepContext.emit_forward`)
before its undo's, so the event stream never undoes what it never announced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ..exceptions import (
    ContractViolation,
    ServiceConnectionError,
    ServiceHTTPError,
    ServiceTimeoutError,
)

APPLIED, ABSENT, UNKNOWN = "applied", "absent", "unknown"

T = TypeVar("T")
R = TypeVar("R", bound=Mapping[str, Any])


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


def resolve(
    record: dict[str, Any],
    replay: Callable[[], R],
    on_applied: Callable[[R], None] | None = None,
) -> str | None:
    """The id of what the action did, replaying its call under its key when unknown.

    `on_applied(answer)` runs when the replay finds the call applied, after the record says so
    (a checkpoint there saves both); never for an outcome the action itself saw.
    """
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
    if on_applied is not None:
        on_applied(result)
    return str(result["id"])
