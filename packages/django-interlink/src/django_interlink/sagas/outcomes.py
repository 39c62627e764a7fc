"""What a saga step's service call did: APPLIED (with the id), ABSENT, or UNKNOWN.

A step records each call's outcome in the saga context before and after it runs. The outcome
is decided from what is known, never guessed:

- APPLIED: the service answered with the resource.
- ABSENT: the service did not do it. Either the request never reached it (refused by our own
  contract check before a byte left, no instance in the registry, every connection attempt
  refused), or it answered that nothing was done (a stored 4xx; a 5xx, 408 or 429, which the
  services answer before doing anything). An undo of an ABSENT call has nothing to undo and
  sends nothing.
- UNKNOWN: the request may have reached the service and no usable answer came back (a timeout,
  a connection lost after sending, a response that breaks the contract, a 409 "still in
  flight"), or an earlier attempt under the same key did so. The compensation then replays
  the action's own call under its own Idempotency-Key, and the service answers with what it
  did the first time (or does it now, to be undone), so nothing is charged, held or ordered
  twice or left behind.

What only the replay saw, the action never announced: `resolve` hands its answer to
`on_applied`, where the compensation publishes the action's event (`StepContext.emit_forward`)
before its undo's, so the event stream never undoes what it never announced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from ..exceptions import (
    ContractViolation,
    RegistryError,
    ServiceConnectionError,
    ServiceError,
    ServiceHTTPError,
    ServiceTimeoutError,
)
from ..http_statuses import nothing_done

APPLIED, ABSENT, UNKNOWN = "applied", "absent", "unknown"

T = TypeVar("T")
R = TypeVar("R", bound=Mapping[str, Any])


def in_flight(exc: ServiceHTTPError) -> bool:
    """The idempotency draft's 409: a request with this key is still being processed."""
    problem_type = str(exc.problem.get("type"))  # "None" when the problem has no type
    return exc.status_code == 409 and problem_type.endswith("idempotency-key-in-use")


# What a call can fail with; anything else (a bug in the step, a lost lease) records nothing.
CALL_ERRORS = (
    ServiceHTTPError,
    ServiceTimeoutError,
    ServiceConnectionError,
    ContractViolation,
    RegistryError,
)


def outcome_of_failure(exc: ServiceError, before: str | None) -> str:
    """The outcome of a call that raised `exc`, given the record's state before it ran."""
    if exc.sent_unanswered:
        return UNKNOWN
    if isinstance(exc, ServiceHTTPError):
        if in_flight(exc):
            return UNKNOWN
        if not nothing_done(exc.status_code or 0):
            return ABSENT  # a stored 4xx: the final answer for this key
    # Nothing reached the service, or it did nothing: this attempt settles nothing about an
    # earlier one under the same key that is still unaccounted for.
    return UNKNOWN if before == UNKNOWN else ABSENT


# Set by the runner while a step runs whose earlier attempt died before its end was written:
# that attempt's calls may have reached the services, and their records were never saved.
_unrecorded: ContextVar[bool] = ContextVar("saga_earlier_calls_unrecorded", default=False)


@contextmanager
def earlier_calls_unrecorded(unrecorded: bool) -> Iterator[None]:
    """Inside the block, a call with no recorded outcome may have been made before."""
    token = _unrecorded.set(unrecorded)
    try:
        yield
    finally:
        _unrecorded.reset(token)


def tracked(record: dict[str, Any], call: Callable[[], T]) -> T:
    """Run one service call and record whether it was applied, not applied, or unknown.

    A record with no outcome is a call never made, unless an earlier attempt of the step died
    before saving what it did: then it may have been made, and counts as UNKNOWN until a
    service's answer settles it.
    """
    before = record.get("state")
    if before is None and _unrecorded.get():
        before = UNKNOWN
    try:
        result = call()
    except CALL_ERRORS as exc:
        record["state"] = outcome_of_failure(exc, before)
        raise
    record["state"] = APPLIED
    record["id"] = result["id"] if isinstance(result, dict) else None
    return result


def never_sent(record: dict[str, Any]) -> None:
    """Record a call the step did not make (it stopped before it): ABSENT, so its undo sends
    nothing; UNKNOWN if an earlier attempt of the step died unrecorded and may have made it."""
    if record.get("state") is None:
        record["state"] = UNKNOWN if _unrecorded.get() else ABSENT


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
        if outcome_of_failure(exc, UNKNOWN) == UNKNOWN:
            raise  # still unknown: the compensation is retried
        record["state"] = ABSENT
        return None
    record.update(state=APPLIED, id=result["id"])
    if on_applied is not None:
        on_applied(result)
    return str(result["id"])
