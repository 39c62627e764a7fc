"""Crash points: an installed hook sees every point in order, and a "crash" saves nothing more."""

from __future__ import annotations

import pytest

from django_interlink.models import SagaExecution, SagaStatus, SagaStepLog
from django_interlink.sagas import crash
from django_interlink.sagas.definition import SagaDefinition, SagaStep, StepContext
from django_interlink.sagas.services import saga_execute

pytestmark = pytest.mark.django_db


class Killed(BaseException):
    """Raised by a hook in place of SIGKILL: no `except Exception` in the engine catches it."""


def _step(ctx: StepContext) -> None:
    ctx.crash_point("inside")


DEFINITION = SagaDefinition("crash_test", [SagaStep("a", _step), SagaStep("b", _step, _step)])


def test_installed_hook_sees_every_point_in_order_and_the_previous_hook_comes_back():
    """Before, inside and after each action the hook is called; leaving the block restores it."""
    outer: list[str] = []
    inner: list[str] = []
    with crash.installed(outer.append):
        with crash.installed(inner.append):
            result = saga_execute(definition=DEFINITION, saga_id="points", context={})
        crash.crash_point("after the block")
    assert result.status == SagaStatus.COMPLETED
    assert inner == [
        "before_action:a",
        "action:a:inside",
        "after_action:a",
        "before_action:b",
        "action:b:inside",
        "after_action:b",
    ]
    assert outer == ["after the block"]


def test_a_crash_after_the_call_leaves_the_step_started_and_nothing_else_saved():
    """Killed once the action returned: the row still says "step b runs", its attempt open."""

    def kill_after_b(name: str) -> None:
        if name == "after_action:b":
            raise Killed(name)

    with crash.installed(kill_after_b), pytest.raises(Killed):
        saga_execute(definition=DEFINITION, saga_id="killed", context={})
    execution = SagaExecution.objects.get(saga_id="killed")
    assert (execution.status, execution.current_step, execution.compensating) == (
        SagaStatus.RUNNING,
        1,
        False,
    )
    assert execution.lease_owner != ""
    logs = list(SagaStepLog.objects.values_list("step_name", "status"))
    assert logs == [("a", "succeeded"), ("b", "running")]
