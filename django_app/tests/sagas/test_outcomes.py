"""Outcome records of a step's service calls: applied, absent, unknown, and settling unknown."""

from __future__ import annotations

import pytest

from django_interlink.exceptions import (
    ContractViolation,
    RegistryUnavailable,
    ResourceNotFound,
    SagaLeaseLost,
    ServiceConnectionError,
    ServiceHTTPError,
    ServiceNotFound,
    ServiceTimeoutError,
    ServiceUnavailable,
)
from django_interlink.http_statuses import nothing_done
from django_interlink.sagas.outcomes import (
    ABSENT,
    APPLIED,
    UNKNOWN,
    earlier_calls_unrecorded,
    in_flight,
    resolve,
    tracked,
)

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


def test_a_call_that_answers_without_a_resource_is_applied_without_an_id():
    """An answer that is no resource (a 204's None) is APPLIED; there is no id to record."""
    record: dict = {}
    assert tracked(record, lambda: None) is None
    assert record == {"state": APPLIED, "id": None}


@pytest.mark.parametrize(
    "exc",
    [
        ServiceTimeoutError(),
        ServiceConnectionError(),
        ServiceConnectionError(sent_unanswered=True),
        ContractViolation("bad body", sent_unanswered=True),
        ServiceHTTPError(status_code=409, payload=IN_FLIGHT),
        ServiceUnavailable(status_code=503, sent_unanswered=True),
    ],
    ids=[
        "timeout",
        "connection-lost-not-known-where",
        "connection-lost-after-sending",
        "malformed-response",
        "still-in-flight",
        "503-after-a-lost-attempt",
    ],
)
def test_a_call_without_a_trustworthy_answer_is_unknown(exc):
    """Timeouts, connections lost once sent, responses that break the contract, in-flight 409s,
    and a 5xx after an attempt that went unanswered leave the outcome UNKNOWN."""
    record: dict = {}
    with pytest.raises(type(exc)):
        tracked(record, _raise(exc))
    assert record == {"state": UNKNOWN}


@pytest.mark.parametrize(
    "exc",
    [
        ContractViolation("amount: above the maximum"),
        ServiceConnectionError(sent_unanswered=False),
        ServiceNotFound(),
        RegistryUnavailable(),
        ServiceHTTPError(status_code=500),
        ServiceHTTPError(status_code=503),
        ServiceHTTPError(status_code=408),
        ServiceHTTPError(status_code=429),
    ],
    ids=[
        "refused-by-our-contract",
        "connection-refused",
        "no-instance",
        "registry-down",
        "500",
        "503",
        "408",
        "429",
    ],
)
def test_a_call_that_never_arrived_or_did_nothing_is_absent(exc):
    """A request that never left, or that the service answered without doing anything, is
    ABSENT: an undo has nothing to replay."""
    record: dict = {}
    with pytest.raises(type(exc)):
        tracked(record, _raise(exc))
    assert record == {"state": ABSENT}


def test_an_error_that_is_not_the_calls_records_nothing():
    """A lost lease (a guard before the call) or a bug in the step says nothing of the call."""
    for exc in (SagaLeaseLost(), KeyError("items")):
        record: dict = {"state": UNKNOWN}
        with pytest.raises(type(exc)):
            tracked(record, _raise(exc))
        assert record == {"state": UNKNOWN}


def test_the_statuses_that_say_nothing_was_done():
    """5xx, 408 and 429 are answered before anything is done; other statuses are stored."""
    assert [s for s in (400, 404, 407, 408, 409, 422, 428, 429, 430, 499) if nothing_done(s)] == [
        408,
        429,
    ]
    assert all(nothing_done(s) for s in (500, 501, 502, 503, 504, 599))


def test_a_stored_client_error_is_absent():
    """A 4xx is the service's final answer for this key: nothing was done."""
    record: dict = {}
    with pytest.raises(ResourceNotFound):
        tracked(record, _raise(ResourceNotFound(status_code=404)))
    assert record == {"state": ABSENT}


def test_a_failure_that_settles_nothing_keeps_an_earlier_unknown():
    """A 5xx, 408 or 429, a refused connection or a refusal by our own contract now says
    nothing about an earlier attempt under the same key: it stays UNKNOWN."""
    for exc in (
        ServiceHTTPError(status_code=500),
        ServiceHTTPError(status_code=408),
        ServiceHTTPError(status_code=429),
        ServiceConnectionError(sent_unanswered=False),
        ServiceNotFound(),
    ):
        record: dict = {"state": UNKNOWN}
        with pytest.raises(type(exc)):
            tracked(record, _raise(exc))
        assert record == {"state": UNKNOWN}
    record = {"state": UNKNOWN}
    with pytest.raises(ResourceNotFound):
        tracked(record, _raise(ResourceNotFound(status_code=404)))
    assert record == {"state": ABSENT}  # a stored 4xx is the key's final answer


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
        ServiceHTTPError(status_code=500),
        ServiceHTTPError(status_code=502),
        ServiceHTTPError(status_code=408),
        ServiceHTTPError(status_code=429),
        ServiceHTTPError(status_code=409, payload=IN_FLIGHT),
        ServiceTimeoutError(),
        ServiceConnectionError(sent_unanswered=False),
    ):
        record: dict = {"state": UNKNOWN}
        with pytest.raises(type(exc)):
            resolve(record, _raise(exc))
        assert record == {"state": UNKNOWN}
    record = {"state": UNKNOWN}
    assert resolve(record, _raise(ServiceHTTPError(status_code=422))) is None
    assert record == {"state": ABSENT}
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


def test_a_call_an_interrupted_attempt_may_have_made_is_unknown_until_answered():
    """When an earlier attempt of the step died before saving its records, a record with no
    outcome may hide a call that was made: a refused connection now settles nothing (UNKNOWN);
    an answer still settles it."""
    with earlier_calls_unrecorded(True):
        record: dict = {}
        with pytest.raises(ServiceConnectionError):
            tracked(record, _raise(ServiceConnectionError(sent_unanswered=False)))
        assert record == {"state": UNKNOWN}
        record = {}
        with pytest.raises(ResourceNotFound):
            tracked(record, _raise(ResourceNotFound(status_code=404)))
        assert record == {"state": ABSENT}
        record = {"state": ABSENT}  # recorded before the crash: known
        with pytest.raises(ServiceConnectionError):
            tracked(record, _raise(ServiceConnectionError(sent_unanswered=False)))
        assert record == {"state": ABSENT}
    record = {}
    with pytest.raises(ServiceConnectionError):
        tracked(record, _raise(ServiceConnectionError(sent_unanswered=False)))
    assert record == {"state": ABSENT}
