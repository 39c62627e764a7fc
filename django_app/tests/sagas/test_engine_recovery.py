"""The saga engine after a worker stops: resume where it stood, leases, claims, database errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from django_interlink.exceptions import SagaLeaseLost, ServiceTimeoutError, StepRejected
from django_interlink.models import SagaExecution, SagaStatus
from django_interlink.sagas.definition import RetryPolicy, SagaDefinition, SagaStep, StepContext
from django_interlink.sagas.services import (
    saga_claim_stale,
    saga_create,
    saga_execute,
    saga_resume,
    saga_resume_stale,
    saga_retry_compensation,
)
from tests.sagas.support import Recorder

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_saga_settings")]


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
