"""A saga started on PostgreSQL: its row goes in with its first attempt's start, in one statement
(`ExecutionStore.create_and_begin`); a saga_id that has a row already is never run twice, even
by two starts racing for it."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connection, transaction

from django_interlink.models import SagaExecution, SagaStatus, SagaStepLog
from django_interlink.models.sagas import StepLogStatus
from django_interlink.sagas.definition import SagaDefinition, SagaStep, StepContext
from django_interlink.sagas.services import SagaResult, saga_execute

pytestmark = pytest.mark.django_db(transaction=True)


def counting_saga(runs: Counter[str], *, pause: float = 0.0) -> SagaDefinition:
    def step(ctx: StepContext) -> None:
        runs[ctx.step] += 1
        time.sleep(pause)

    return SagaDefinition("test_create_saga", [SagaStep(name, step) for name in ("a", "b")])


def test_the_row_and_its_first_attempt_are_there_when_the_first_step_runs(postgres):
    """Inside the first step the saga's row is RUNNING at step 0, leased to the worker, with the
    step's attempt logged as running: both written before the action ran."""
    seen: list[tuple[str, int, str, list[tuple[str, str]]]] = []

    def first(ctx: StepContext) -> None:
        row = SagaExecution.objects.get(saga_id=ctx.saga_id)
        logs = SagaStepLog.objects.filter(execution=row).values_list("step_name", "status")
        seen.append((row.status, row.current_step, row.lease_owner, list(logs)))

    definition = SagaDefinition("test_create_saga", [SagaStep("a", first)])
    result = saga_execute(definition=definition, saga_id="create-1", context={}, owner="w1")
    assert connection.vendor == "postgresql"
    assert result.status == SagaStatus.COMPLETED
    assert seen == [(SagaStatus.RUNNING, 0, "w1", [("a", StepLogStatus.RUNNING)])]


def test_a_saga_id_started_again_runs_nothing_and_returns_the_first_outcome(postgres):
    """The second start finds the finished row: no step runs again, one row and one attempt a
    step stay, and inside a caller's transaction the refused INSERT leaves it usable."""
    runs: Counter[str] = Counter()
    definition = counting_saga(runs)
    first = saga_execute(definition=definition, saga_id="create-2", context={"n": 1})
    with transaction.atomic():
        again = saga_execute(definition=definition, saga_id="create-2", context={"n": 2})
        rows = SagaExecution.objects.filter(saga_id="create-2").count()
    assert (first.status, again.status) == (SagaStatus.COMPLETED, SagaStatus.COMPLETED)
    assert again.context == first.context == {"n": 1}
    assert runs == {"a": 1, "b": 1}
    assert rows == 1
    assert SagaStepLog.objects.filter(execution__saga_id="create-2").count() == 2


def test_two_starts_racing_for_one_saga_id_run_its_steps_once(postgres):
    """Two threads start the same saga_id at once: one inserts and runs it; the other finds the
    row leased and returns the stored state without running a step."""
    runs: Counter[str] = Counter()
    definition = counting_saga(runs, pause=1.0)
    gate = threading.Barrier(2)
    results: list[SagaResult] = []
    errors: list[BaseException] = []

    def start(owner: str) -> None:
        try:
            gate.wait()
            results.append(
                saga_execute(definition=definition, saga_id="create-3", context={}, owner=owner)
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=start, args=(f"w{i}",)) for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert runs == {"a": 1, "b": 1}
    assert sorted(r.status for r in results) == [SagaStatus.COMPLETED, SagaStatus.RUNNING]
    assert SagaExecution.objects.filter(saga_id="create-3").count() == 1
