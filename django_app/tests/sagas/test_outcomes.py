"""Outcome records of a step's service calls: applied, absent, unknown, and settling unknown."""

from __future__ import annotations

import pytest

from microservices.exceptions import (
    ContractViolation,
    ResourceNotFound,
    ServiceHTTPError,
    ServiceTimeoutError,
)
from microservices.sagas.outcomes import ABSENT, APPLIED, UNKNOWN, in_flight, resolve, tracked

IN_FLIGHT = {"type": "https://example.com/problems/idempotency-key-in-use"}


def _raise(exc: BaseException):
    def call():
        raise exc

    return call


def test_a_call_that_answers_is_applied_with_its_id():
    """A returned resource is APPLIED and its id recorded."""
    record: dict = {}
    assert tracked(record, lambda: {"id": "p-1"}) == {"id": "p-1"}
    assert record == {"state": APPLIED, "id": "p-1"}


@pytest.mark.parametrize(
    "exc",
    [
        ServiceTimeoutError(),
        ContractViolation("bad body"),
        ServiceHTTPError(status_code=409, payload=IN_FLIGHT),
    ],
    ids=["timeout", "malformed-response", "still-in-flight"],
)
def test_a_call_without_a_trustworthy_answer_is_unknown(exc):
    """Timeouts, responses that break the contract and in-flight 409s leave the outcome UNKNOWN."""
    record: dict = {}
    with pytest.raises(type(exc)):
        tracked(record, _raise(exc))
    assert record == {"state": UNKNOWN}


def test_a_stored_client_error_is_absent():
    """A 4xx is the service's final answer for this key: nothing was done."""
    record: dict = {}
    with pytest.raises(ResourceNotFound):
        tracked(record, _raise(ResourceNotFound(status_code=404)))
    assert record == {"state": ABSENT}


def test_a_server_error_after_an_unknown_attempt_stays_unknown():
    """A 503 now says nothing about the earlier attempt under the same key."""
    record: dict = {"state": UNKNOWN}
    with pytest.raises(ServiceHTTPError):
        tracked(record, _raise(ServiceHTTPError(status_code=503)))
    assert record == {"state": UNKNOWN}


def test_resolve_replays_only_an_unknown_call():
    """APPLIED and ABSENT are answered from the record; UNKNOWN replays the call under its key."""
    calls: list[str] = []

    def replay():
        calls.append("replayed")
        return {"id": "p-9"}

    assert resolve({"state": APPLIED, "id": "p-1"}, replay) == "p-1"
    assert resolve({"state": ABSENT}, replay) is None
    assert calls == []
    record: dict = {"state": UNKNOWN}
    assert resolve(record, replay) == "p-9"
    assert (calls, record) == (["replayed"], {"state": APPLIED, "id": "p-9"})


def test_resolve_keeps_an_unknown_outcome_while_the_service_cannot_say():
    """A replay that meets a 5xx or an in-flight 409 raises, so the compensation is retried."""
    for exc in (
        ServiceHTTPError(status_code=502),
        ServiceHTTPError(status_code=409, payload=IN_FLIGHT),
    ):
        record: dict = {"state": UNKNOWN}
        with pytest.raises(ServiceHTTPError):
            resolve(record, _raise(exc))
        assert record == {"state": UNKNOWN}
    assert in_flight(ServiceHTTPError(status_code=409, payload=IN_FLIGHT))
    assert not in_flight(ServiceHTTPError(status_code=409, payload={"type": "conflict"}))


def test_resolve_hands_only_what_the_replay_found_to_on_applied():
    """on_applied gets the replay's answer once the record says APPLIED; an outcome the action
    saw, or a replay that finds nothing, never reaches it."""
    found: list[tuple[dict, dict]] = []
    record: dict = {"state": UNKNOWN}

    def on_applied(answer: dict) -> None:
        found.append((answer, dict(record)))

    assert resolve({"state": APPLIED, "id": "p-1"}, lambda: {"id": "p-1"}, on_applied) == "p-1"
    assert (
        resolve({"state": UNKNOWN}, _raise(ResourceNotFound(status_code=404)), on_applied) is None
    )
    assert found == []
    assert resolve(record, lambda: {"id": "p-9", "amount": 5}, on_applied) == "p-9"
    assert found == [({"id": "p-9", "amount": 5}, {"state": APPLIED, "id": "p-9"})]
