"""The saga engine on SQLite with plain Python steps: order, undo, retries, waits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_interlink.exceptions import ServiceHTTPError, ServiceTimeoutError, StepRejected
from django_interlink.models import SagaExecution, SagaStatus, SagaStepLog
from django_interlink.sagas.definition import StepContext
from django_interlink.sagas.services import saga_execute, saga_resume_stale, saga_retry_compensation
from tests.sagas.support import Recorder

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_saga_settings")]


def test_happy_path_runs_every_action_in_order_and_completes():
    """All actions run once in order, the saga is COMPLETED and one log row exists per step."""
    r = Recorder()
    result = saga_execute(definition=r.definition(["a", "b", "c"]), saga_id="s1", context={})
    assert result.status == SagaStatus.COMPLETED
    assert r.calls == ["action:a", "action:b", "action:c"]
    assert result.context["done"] == ["action:a", "action:b", "action:c"]
    logs = list(SagaStepLog.objects.values_list("step_name", "direction", "status", "attempt"))
    assert logs == [
        ("a", "action", "succeeded", 1),
        ("b", "action", "succeeded", 1),
        ("c", "action", "succeeded", 1),
    ]
    execution = SagaExecution.objects.get(saga_id="s1")
    assert (execution.lease_owner, execution.lease_expires_at) == ("", None)
    assert execution.completed_at is not None


def test_rejection_is_not_retried_and_compensates_in_reverse_including_the_failed_step():
    """A StepRejected action runs once; its own undo then the earlier undos run in reverse."""
    r = Recorder()
    r.fail["action:c"] = [StepRejected("card declined")]
    result = saga_execute(definition=r.definition(["a", "b", "c", "d"]), saga_id="s", context={})
    assert result.status == SagaStatus.COMPENSATED
    assert r.calls == [
        "action:a",
        "action:b",
        "action:c",
        "compensation:c",
        "compensation:b",
        "compensation:a",
    ]
    assert result.error.startswith("c: StepRejected")
    assert SagaStepLog.objects.get(step_name="c", direction="action").status == "rejected"


def test_first_step_failing_without_compensation_ends_failed():
    """When nothing was applied that needs undoing, the saga ends FAILED with the reason."""
    r = Recorder()
    r.fail["action:a"] = [StepRejected("inactive user")]
    result = saga_execute(
        definition=r.definition(["a", "b"], no_undo=("a",)), saga_id="f", context={}
    )
    assert result.status == SagaStatus.FAILED
    assert r.calls == ["action:a"]
    assert "inactive user" in result.error


def test_retryable_errors_are_retried_with_the_same_idempotency_key():
    """A transient error is retried; every attempt of a step carries the same key."""
    r = Recorder()
    r.fail["action:b"] = [ServiceTimeoutError(), ServiceHTTPError(status_code=503)]
    result = saga_execute(definition=r.definition(["a", "b"]), saga_id="r", context={})
    assert result.status == SagaStatus.COMPLETED
    assert r.calls == ["action:a", "action:b", "action:b", "action:b"]
    assert r.keys[1:] == ["r:b:action"] * 3
    attempts = list(SagaStepLog.objects.filter(step_name="b").values_list("attempt", "status"))
    assert attempts == [(1, "failed"), (2, "failed"), (3, "succeeded")]


def test_non_retryable_http_error_starts_compensation_at_once():
    """A 422 is not transient: no second attempt, compensation starts."""
    r = Recorder()
    r.fail["action:b"] = [ServiceHTTPError(status_code=422)]
    result = saga_execute(definition=r.definition(["a", "b"]), saga_id="n", context={})
    assert result.status == SagaStatus.COMPENSATED
    assert r.calls == ["action:a", "action:b", "compensation:b", "compensation:a"]


def test_exhausted_retries_compensate():
    """An action failing transiently on every attempt gives up after `attempts` and compensates."""
    r = Recorder()
    r.fail["action:b"] = [ServiceTimeoutError() for _ in range(3)]
    result = saga_execute(definition=r.definition(["a", "b"]), saga_id="x", context={})
    assert result.status == SagaStatus.COMPENSATED
    assert r.calls.count("action:b") == 3


def test_idempotency_keys_differ_by_step_and_direction():
    """Action and compensation of a step, and different steps, never share a key."""
    r = Recorder()
    r.fail["action:b"] = [StepRejected()]
    saga_execute(definition=r.definition(["a", "b"]), saga_id="k", context={})
    assert r.keys == ["k:a:action", "k:b:action", "k:b:compensation", "k:a:compensation"]
    ctx = StepContext("k", "b", "compensation", 1, {}, 1.0)
    assert ctx.idempotency_key(2) == "k:b:compensation:2"
    assert ctx.idempotency_key(2, direction="action") == "k:b:action:2"


def test_an_undo_that_fails_for_good_lets_the_others_run_then_needs_attention():
    """A permanent failure (a 404) is tried once, set aside; the earlier undo still runs; the
    saga ends NEEDS_ATTENTION on it, never COMPENSATED."""
    r = Recorder()
    r.fail["action:c"] = [StepRejected()]
    r.fail["compensation:b"] = [ServiceHTTPError(status_code=404)]
    result = saga_execute(definition=r.definition(["a", "b", "c"]), saga_id="na", context={})
    assert result.status == SagaStatus.NEEDS_ATTENTION
    assert r.calls.count("compensation:b") == 1
    assert r.calls[-1] == "compensation:a"
    assert "compensation of b failed" in result.error
    execution = SagaExecution.objects.get(saga_id="na")
    assert (execution.current_step, execution.compensating) == (1, True)
    assert (execution.undos_left, execution.undos_failed) == ([1], [1])


def test_an_undo_that_fails_for_a_passing_reason_waits_released_then_finishes():
    """500s through every in-run try: the earlier undo runs at once, the saga is released with
    a time to come back, no worker claims it before then, and the next run finishes the undo."""
    r = Recorder()
    r.fail["action:c"] = [StepRejected()]
    r.fail["compensation:b"] = [ServiceHTTPError(status_code=500) for _ in range(3)]
    definition = r.definition(["a", "b", "c"])
    result = saga_execute(definition=definition, saga_id="w", context={})
    assert result.status == SagaStatus.COMPENSATING
    assert r.calls.count("compensation:b") == 3
    assert r.calls[-1] == "compensation:a"
    execution = SagaExecution.objects.get(saga_id="w")
    assert (execution.current_step, execution.undos_left, execution.waits) == (1, [1], 1)
    assert (execution.lease_owner, execution.lease_expires_at) == ("", None)
    assert execution.not_before is not None and execution.not_before > timezone.now()
    assert execution.waiting_since is not None
    assert "compensation of b" not in execution.error_message  # waiting is not failing
    assert saga_resume_stale(owner="w2") == []  # not before its time
    SagaExecution.objects.filter(saga_id="w").update(not_before=timezone.now())
    r.calls.clear()
    (resumed,) = saga_resume_stale(owner="w2")
    assert (resumed.status, r.calls) == (SagaStatus.COMPENSATED, ["compensation:b"])


def test_a_wait_past_the_horizon_calls_a_person():
    """After COMPENSATION_HORIZON of waiting, a passing failure counts as a failure."""
    r = Recorder()
    r.fail["action:c"] = [StepRejected()]
    r.fail["compensation:b"] = [ServiceHTTPError(status_code=503) for _ in range(6)]
    definition = r.definition(["a", "b", "c"])
    saga_execute(definition=definition, saga_id="h", context={})
    SagaExecution.objects.filter(saga_id="h").update(
        not_before=timezone.now(), waiting_since=timezone.now() - timedelta(hours=7)
    )
    (result,) = saga_resume_stale(owner="w2")
    assert result.status == SagaStatus.NEEDS_ATTENTION
    assert "COMPENSATION_HORIZON spent" in result.error


def test_retry_compensation_tries_only_the_undos_left():
    """After the cause is fixed, retrying a NEEDS_ATTENTION saga runs the failed undo again
    (its attempt numbers carry on), not the ones already done."""
    r = Recorder()
    r.fail["action:c"] = [StepRejected()]
    r.fail["compensation:b"] = [ServiceHTTPError(status_code=404)]
    definition = r.definition(["a", "b", "c"])
    saga_execute(definition=definition, saga_id="rc", context={})
    r.calls.clear()
    result = saga_retry_compensation(saga_id="rc")
    assert result.status == SagaStatus.COMPENSATED
    assert r.calls == ["compensation:b"]
    attempts = list(
        SagaStepLog.objects.filter(step_name="b", direction="compensation").values_list(
            "attempt", flat=True
        )
    )
    assert attempts == [1, 2]


def test_existing_saga_id_returns_its_outcome_without_running_again():
    """Executing a finished saga_id again runs nothing and returns the stored outcome."""
    r = Recorder()
    definition = r.definition(["a", "b"])
    first = saga_execute(definition=definition, saga_id="once", context={"n": 1})
    second = saga_execute(definition=definition, saga_id="once", context={"n": 2})
    assert second == first
    assert r.calls == ["action:a", "action:b"]
    assert SagaExecution.objects.count() == 1
