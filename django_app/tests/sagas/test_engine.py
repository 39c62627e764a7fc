"""The saga engine on SQLite with plain Python steps: order, undo, retries, resume, leases."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.test import override_settings
from django.utils import timezone

from django_interlink.exceptions import (
    SagaLeaseLost,
    ServiceHTTPError,
    ServiceTimeoutError,
    StepRejected,
)
from django_interlink.models import SagaExecution, SagaStatus, SagaStepLog
from django_interlink.sagas.definition import (
    RetryPolicy,
    SagaDefinition,
    SagaStep,
    StepContext,
)
from django_interlink.sagas.registry import register
from django_interlink.sagas.services import (
    saga_claim_stale,
    saga_create,
    saga_execute,
    saga_resume,
    saga_resume_stale,
    saga_retry_compensation,
)
from django_interlink.sagas.state import Outcome, SagaState, transition

pytestmark = pytest.mark.django_db

FAST = {"SAGA": {"COMPENSATION_ATTEMPTS": 3, "COMPENSATION_BACKOFF": 0.0, "LEASE_SECONDS": 30}}


class Recorder:
    """Plain Python steps that log what ran, and fail on demand."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.keys: list[str] = []
        self.fail: dict[str, list[BaseException]] = {}

    def step(self, name: str) -> Any:
        def fn(ctx: StepContext) -> None:
            label = f"{ctx.direction}:{name}"
            self.calls.append(label)
            self.keys.append(ctx.idempotency_key())
            errors = self.fail.get(label)
            if errors:
                raise errors.pop(0)
            ctx.data.setdefault("done", []).append(label)

        return fn

    def definition(self, names: list[str], *, no_undo: tuple[str, ...] = (), **kw: Any):
        return register(
            SagaDefinition(
                "test_saga",
                [
                    SagaStep(
                        n,
                        self.step(n),
                        compensation=None if n in no_undo else self.step(n),
                        retry=RetryPolicy(attempts=3, backoff=0.0),
                        **kw,
                    )
                    for n in names
                ],
            )
        )


@pytest.fixture(autouse=True)
def _fast_saga_settings():
    with override_settings(INTERLINK=FAST):
        yield


def test_transition_moves_forward_then_completes():
    """A successful action advances to the next step; after the last one the saga is completed."""
    d = Recorder().definition(["a", "b"])
    ok = Outcome.SUCCEEDED
    assert transition(d, SagaState(0, False, "running"), ok) == SagaState(1, False, "running")
    assert transition(d, SagaState(1, False, "running"), ok) == SagaState(1, False, "completed")


def test_transition_compensates_the_failed_step_itself_first():
    """A failed action is undone starting with its own compensation, skipping steps without one."""
    d = Recorder().definition(["a", "b", "c"], no_undo=("b",))
    both = frozenset({0, 2})
    assert transition(d, SagaState(2, False, "running"), Outcome.FAILED) == SagaState(
        2, True, "compensating", both
    )
    assert transition(d, SagaState(2, True, "compensating", both), Outcome.SUCCEEDED) == (
        SagaState(0, True, "compensating", frozenset({0}))
    )
    assert transition(
        d, SagaState(0, True, "compensating", frozenset({0})), Outcome.SUCCEEDED
    ) == SagaState(0, True, "compensated")


def test_transition_fails_without_compensation_when_nothing_to_undo():
    """A failure before any step with a compensation ends FAILED, not COMPENSATED."""
    d = Recorder().definition(["a", "b"], no_undo=("a",))
    assert transition(d, SagaState(0, False, "running"), Outcome.FAILED) == SagaState(
        0, False, "failed"
    )


def test_a_waiting_undo_is_overtaken_by_the_earlier_ones_then_waited_for():
    """The refund waits for payments: the stock is released first, then the saga waits for the
    refund, tries it again and ends COMPENSATED."""
    d = Recorder().definition(["reserve", "charge", "ship"])
    state = transition(d, SagaState(2, False, "running"), Outcome.FAILED)
    assert (state.step, state.undos_left) == (2, frozenset({0, 1, 2}))
    state = transition(d, state, Outcome.SUCCEEDED)  # ship undone
    state = transition(d, state, Outcome.WAITS)  # the refund waits
    assert state == SagaState(0, True, "compensating", frozenset({0, 1}))  # release goes on
    state = transition(d, state, Outcome.SUCCEEDED)
    assert state == SagaState(1, True, "compensating", frozenset({1}), waiting=True)
    state = transition(d, SagaState(1, True, "compensating", frozenset({1})), Outcome.WAITS)
    assert state == SagaState(1, True, "compensating", frozenset({1}), waiting=True)
    done = transition(d, SagaState(1, True, "compensating", frozenset({1})), Outcome.SUCCEEDED)
    assert done.status == "compensated"


def test_a_failed_undo_lets_the_others_finish_then_calls_a_person():
    """A permanent failure is set aside: the earlier undos still run, then NEEDS_ATTENTION on
    the failed one, with what is left recorded for the retry."""
    d = Recorder().definition(["reserve", "charge", "ship"])
    state = SagaState(1, True, "compensating", frozenset({0, 1}))
    state = transition(d, state, Outcome.FAILED)
    assert state == SagaState(0, True, "compensating", frozenset({0, 1}), frozenset({1}))
    state = transition(d, state, Outcome.SUCCEEDED)
    assert state == SagaState(1, True, "needs_attention", frozenset({1}), frozenset({1}))


def test_a_failed_undo_waits_for_the_waiting_ones_before_calling_a_person():
    """One undo failed for good, a later one waits: the saga waits for it first."""
    d = Recorder().definition(["reserve", "charge", "ship"])
    state = SagaState(2, True, "compensating", frozenset({0, 1, 2}))
    state = transition(d, state, Outcome.WAITS)
    state = transition(d, state, Outcome.FAILED)
    state = transition(d, state, Outcome.SUCCEEDED)
    assert state == SagaState(
        2, True, "compensating", frozenset({1, 2}), frozenset({1}), waiting=True
    )
    state = transition(d, replace(state, waiting=False), Outcome.SUCCEEDED)
    assert state == SagaState(1, True, "needs_attention", frozenset({1}), frozenset({1}))


def test_an_undo_that_must_come_first_is_never_overtaken():
    """undo_first: while it waits, nothing earlier is undone; when it fails, a person decides."""
    r = Recorder()
    d = SagaDefinition(
        "strict",
        [
            SagaStep("reserve", r.step("reserve"), r.step("reserve")),
            SagaStep("charge", r.step("charge"), r.step("charge"), undo_first=True),
        ],
    )
    state = SagaState(1, True, "compensating", frozenset({0, 1}))
    assert transition(d, state, Outcome.WAITS) == replace(state, waiting=True)
    assert transition(d, state, Outcome.FAILED) == SagaState(
        1, True, "needs_attention", frozenset({0, 1}), frozenset({1})
    )


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


def _stale(saga_id: str, *, step: int, compensating: bool, status: str, context=None):
    execution = SagaExecution.objects.create(
        saga_id=saga_id,
        saga_type="test_saga",
        status=status,
        current_step=step,
        compensating=compensating,
        context_data=context or {},
        lease_owner="dead-worker",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    return execution


def test_resume_continues_an_interrupted_action_forward():
    """A saga stopped at step 1 (forward) is resumed from step 1, not from the start."""
    r = Recorder()
    r.definition(["a", "b", "c"])
    _stale("fw", step=1, compensating=False, status=SagaStatus.RUNNING)
    results = saga_resume_stale(owner="w1")
    assert [x.status for x in results] == [SagaStatus.COMPLETED]
    assert r.calls == ["action:b", "action:c"]


def test_resume_continues_an_interrupted_compensation_backward():
    """A saga stopped while compensating step 1 finishes compensating 1 then 0."""
    r = Recorder()
    r.definition(["a", "b", "c"])
    _stale("bw", step=1, compensating=True, status=SagaStatus.COMPENSATING)
    result = saga_resume(saga_id="bw", owner="w1")
    assert result.status == SagaStatus.COMPENSATED
    assert r.calls == ["compensation:b", "compensation:a"]


def test_live_lease_is_not_claimed_by_another_worker():
    """A running saga whose lease has not expired is left alone by workers and by re-execution."""
    r = Recorder()
    definition = r.definition(["a", "b"])
    SagaExecution.objects.create(
        saga_id="busy",
        saga_type="test_saga",
        status=SagaStatus.RUNNING,
        lease_owner="alive",
        lease_expires_at=timezone.now() + timedelta(seconds=30),
    )
    assert saga_claim_stale(owner="w2", limit=10) == []
    result = saga_execute(definition=definition, saga_id="busy", context={})
    assert result.status == SagaStatus.RUNNING
    assert r.calls == []


def test_claim_takes_unleased_pending_and_expired_sagas_once():
    """A worker claims pending sagas nobody holds and expired ones; a second worker gets none."""
    definition = Recorder().definition(["a"])
    saga_create(definition=definition, saga_id="p1", context={})
    _stale("p2", step=0, compensating=False, status=SagaStatus.RUNNING)
    SagaExecution.objects.create(saga_id="done", saga_type="test_saga", status="completed")
    claimed = saga_claim_stale(owner="w1", limit=10)
    assert len(claimed) == 2
    assert saga_claim_stale(owner="w2", limit=10) == []
    assert set(
        SagaExecution.objects.filter(pk__in=claimed).values_list("lease_owner", flat=True)
    ) == {"w1"}


def test_worker_that_lost_its_lease_stops_without_writing():
    """When another worker takes the saga over mid-step, the first one stops at its next save."""
    r = Recorder()

    def steal(ctx: StepContext) -> None:
        r.calls.append("steal")
        SagaExecution.objects.filter(saga_id=ctx.saga_id).update(lease_owner="thief")

    definition = SagaDefinition("test_saga", [SagaStep("a", steal), SagaStep("b", r.step("b"))])
    with pytest.raises(SagaLeaseLost):
        saga_execute(definition=definition, saga_id="stolen", context={})
    assert r.calls == ["steal"]
    execution = SagaExecution.objects.get(saga_id="stolen")
    assert (execution.status, execution.current_step, execution.lease_owner) == (
        "running",
        0,
        "thief",
    )


def test_checkpoint_keeps_partial_progress_for_the_compensation():
    """A step that applied 2 of 3 items before failing is undone using what it checkpointed."""
    undone: list[int] = []

    def reserve(ctx: StepContext) -> None:
        for item in range(3):
            if item == 2:
                raise StepRejected("out of stock")
            ctx.data.setdefault("reserved", []).append(item)
            ctx.checkpoint()

    def release(ctx: StepContext) -> None:
        for item in reversed(ctx.data.get("reserved", [])):
            undone.append(item)

    definition = SagaDefinition("test_saga", [SagaStep("reserve", reserve, release)])
    result = saga_execute(definition=definition, saga_id="partial", context={})
    assert result.status == SagaStatus.COMPENSATED
    assert undone == [1, 0]
    assert result.context["reserved"] == [0, 1]


def test_step_timeout_budget_stops_retries():
    """Once the step's time budget is spent, no further attempt starts and compensation begins."""
    calls: list[int] = []

    def slow_failure(ctx: StepContext) -> None:
        calls.append(ctx.attempt)
        raise ServiceTimeoutError()

    definition = SagaDefinition(
        "test_saga",
        [SagaStep("s", slow_failure, retry=RetryPolicy(attempts=10, backoff=0.05), timeout=0.01)],
    )
    result = saga_execute(definition=definition, saga_id="budget", context={})
    assert result.status == SagaStatus.FAILED
    assert calls == [1]
    assert "step timeout" in result.error


def test_a_saga_a_worker_cannot_load_needs_attention_and_the_worker_goes_on():
    """A saga whose type is not configured any more, and one standing on a step its definition
    lost, each go to NEEDS_ATTENTION with the reason; the good saga behind them completes."""
    r = Recorder()
    r.definition(["a", "b"])
    unknown = _stale("gone", step=0, compensating=False, status=SagaStatus.RUNNING)
    SagaExecution.objects.filter(pk=unknown.pk).update(saga_type="retired_saga")
    _stale("lost-step", step=5, compensating=True, status=SagaStatus.COMPENSATING)
    _stale("good", step=0, compensating=False, status=SagaStatus.RUNNING)
    results = {x.saga_id: x for x in saga_resume_stale(owner="w1")}
    assert {k: v.status for k, v in results.items()} == {
        "gone": SagaStatus.NEEDS_ATTENTION,
        "lost-step": SagaStatus.NEEDS_ATTENTION,
        "good": SagaStatus.COMPLETED,
    }
    assert "no saga definition registered for type 'retired_saga'" in results["gone"].error
    assert "stands on step 5 (undoing)" in results["lost-step"].error
    stuck = SagaExecution.objects.get(saga_id="lost-step")
    assert (stuck.lease_owner, stuck.lease_expires_at) == ("", None)


def test_a_database_error_stops_the_run_and_the_saga_is_resumed_later(monkeypatch):
    """The database failing under a run is not the saga's fault: the worker lives on, the
    saga stays as it was (leased until its lease lapses), and a later pass finishes it."""
    from django_interlink.sagas.store import ExecutionStore

    r = Recorder()
    r.definition(["a", "b"])
    _stale("db", step=0, compensating=False, status=SagaStatus.RUNNING)
    real = ExecutionStore.begin_attempt
    failures = [OperationalError("server closed the connection unexpectedly")]

    def flaky(self, *args, **kwargs):
        if failures:
            raise failures.pop()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ExecutionStore, "begin_attempt", flaky)
    assert saga_resume_stale(owner="w1") == []
    execution = SagaExecution.objects.get(saga_id="db")
    assert (execution.status, execution.lease_owner) == (SagaStatus.RUNNING, "w1")
    SagaExecution.objects.filter(saga_id="db").update(lease_expires_at=timezone.now())
    assert [x.status for x in saga_resume_stale(owner="w2")] == [SagaStatus.COMPLETED]
    assert r.calls == ["action:a", "action:b"]


def test_reopening_a_saga_that_could_not_run_resumes_it_where_it_stood():
    """Once its definition is back, the operator's retry runs the saga from its step."""
    r = Recorder()
    _stale("back", step=1, compensating=False, status=SagaStatus.RUNNING)
    SagaExecution.objects.filter(saga_id="back").update(saga_type="not_yet")
    assert saga_resume_stale(owner="w1")[0].status == SagaStatus.NEEDS_ATTENTION
    SagaExecution.objects.filter(saga_id="back").update(saga_type="test_saga")
    r.definition(["a", "b"])
    assert saga_retry_compensation(saga_id="back").status == SagaStatus.COMPLETED
    assert r.calls == ["action:b"]
