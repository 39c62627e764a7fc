"""How a saga reads to a person: its position by step name, its live lease, each attempt's state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_interlink.models import SagaExecution, SagaStatus, SagaStepLog
from django_interlink.sagas.definition import SagaDefinition, SagaStep
from django_interlink.sagas.registry import register
from django_interlink.sagas.selectors import definition_of, position, saga_attempts

pytestmark = pytest.mark.django_db


def _noop(ctx) -> None:
    return None


@pytest.fixture
def three_steps() -> SagaDefinition:
    return register(
        SagaDefinition(
            "selectors_saga",
            [
                SagaStep("reserve", _noop, _noop),
                SagaStep("pay", _noop, _noop),
                SagaStep("ship", _noop),
            ],
        )
    )


def _execution(
    status: str, *, step: int = 1, compensating: bool = False, saga_type: str = "selectors_saga"
):
    return SagaExecution(
        saga_id="s",
        saga_type=saga_type,
        status=status,
        current_step=step,
        compensating=compensating,
    )


@pytest.mark.parametrize(
    ("status", "compensating", "expected"),
    [
        (SagaStatus.RUNNING, False, "2/3 pay"),
        (SagaStatus.COMPENSATING, True, "undoing 2/3 pay"),
        (SagaStatus.COMPLETED, False, "all 3 steps done"),
        (SagaStatus.COMPENSATED, True, "all undone"),
        (SagaStatus.FAILED, False, "stopped at 2/3 pay"),
        (SagaStatus.NEEDS_ATTENTION, True, "undo failed at 2/3 pay"),
    ],
)
def test_position_names_the_step_and_the_direction(three_steps, status, compensating, expected):
    """Where the saga is, by step name and number, and whether it is undoing."""
    assert position(_execution(status, compensating=compensating)) == expected


def test_a_type_no_longer_registered_still_reads():
    """An old row whose definition is gone: no lookup error, the step name is unknown."""
    assert definition_of("gone_saga") is None
    assert position(_execution(SagaStatus.RUNNING, saga_type="gone_saga")) == "2/? ?"
    assert position(_execution(SagaStatus.COMPLETED, saga_type="gone_saga")) == "all steps done"


def test_only_an_active_saga_has_a_live_lease():
    """A finished saga's lease column means nothing: no live lease, never lapsed."""
    past = timezone.now() - timedelta(seconds=5)
    running = _execution(SagaStatus.RUNNING)
    running.lease_expires_at = past
    done = _execution(SagaStatus.COMPLETED)
    done.lease_expires_at = past
    assert (running.live_lease, running.lease_lapsed()) == (past, True)
    assert (done.live_lease, done.lease_lapsed()) == (None, False)


def test_an_unfinished_attempt_runs_only_under_a_live_lease():
    """The same unfinished attempt: running while the active saga's lease holds; interrupted
    once the saga ended (and read after the fact, as the demo prints it)."""
    execution = SagaExecution.objects.create(
        saga_id="a",
        saga_type="selectors_saga",
        status=SagaStatus.RUNNING,
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )
    log = SagaStepLog.objects.create(
        execution=execution,
        step_index=0,
        step_name="reserve",
        direction="action",
        attempt=1,
        started_at=timezone.now(),
    )
    assert [a.state for a in saga_attempts(execution)] == ["running"]
    execution.status = SagaStatus.FAILED
    assert [a.state for a in saga_attempts(execution)] == ["interrupted"]
    assert log.outcome == "interrupted"
    log.status, log.finished_at = "failed", timezone.now()
    assert log.outcome == "failed"
