"""A saga's runs and step attempts are spans of the trace that started it; a resumed run
links to the run it took over from."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from opentelemetry.trace import StatusCode

from django_interlink.exceptions import StepRejected
from django_interlink.models import OutboxEvent, SagaExecution, SagaStatus
from django_interlink.sagas.definition import RetryPolicy, SagaDefinition, SagaStep, StepContext
from django_interlink.sagas.registry import register
from django_interlink.sagas.services import saga_create, saga_execute, saga_resume_stale
from django_interlink.tracing import capture, tracer
from shop.event_samples import sample_data

pytestmark = pytest.mark.django_db


def _reserve(ctx: StepContext) -> None:
    ctx.emit("user.created", sample_data("user.created"))


def _charge(ctx: StepContext) -> None:
    if ctx.data.get("decline"):
        raise StepRejected("card declined")


def _undo(ctx: StepContext) -> None:
    return None


def _definition() -> SagaDefinition:
    once = RetryPolicy(attempts=1, backoff=0.0)
    return register(
        SagaDefinition(
            "traced",
            [
                SagaStep("reserve", _reserve, compensation=_undo, retry=once),
                SagaStep("charge", _charge, compensation=_undo, retry=once),
            ],
        )
    )


def test_each_step_and_undo_is_a_child_of_the_run_under_the_starter(spans):
    """Declined at `charge`: its attempt fails, the undos run, every span in the starter's
    trace under one run span; the step's event keeps its step's context for the relay."""
    definition = _definition()
    with tracer().start_as_current_span("request"):
        saga_execute(definition=definition, saga_id="t-1", context={"decline": True})
    request, run = spans.one("request"), spans.one("saga traced")
    assert run.parent is not None and run.parent.span_id == request.context.span_id
    names = ["saga traced step reserve", "saga traced step charge"]
    names += ["saga traced compensation charge", "saga traced compensation reserve"]
    for name in names:
        span = spans.one(name)
        assert span.context.trace_id == request.context.trace_id
        assert span.parent is not None and span.parent.span_id == run.context.span_id
        assert span.attributes["django_interlink.saga.id"] == "t-1"
    assert spans.one("saga traced step charge").status.status_code is StatusCode.ERROR
    assert spans.one("saga traced step reserve").status.status_code is StatusCode.UNSET
    reserve = spans.one("saga traced step reserve")
    stored = OutboxEvent.objects.get().trace_context["traceparent"]
    assert stored.split("-")[2] == f"{reserve.context.span_id:016x}"


def test_a_resumed_run_continues_the_trace_and_links_to_the_interrupted_run(spans):
    """A saga accepted in a request, then run by a worker that died: the next worker's run is
    a child of the request's span with a link to the dead worker's run."""
    definition = _definition()
    with tracer().start_as_current_span("request"):
        saga_create(definition=definition, saga_id="t-2", context={})
        with tracer().start_as_current_span("first run"):
            interrupted = capture()["traceparent"]
    execution = SagaExecution.objects.get(saga_id="t-2")
    SagaExecution.objects.filter(pk=execution.pk).update(
        status=SagaStatus.RUNNING,
        trace_context={**execution.trace_context, "run": interrupted},
        lease_owner="dead-worker",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    (result,) = saga_resume_stale(owner="w2")
    assert result.status == SagaStatus.COMPLETED
    request, first = spans.one("request"), spans.one("first run")
    run = spans.one("saga traced")
    assert run.parent is not None and run.parent.span_id == request.context.span_id
    assert run.context.trace_id == request.context.trace_id
    (link,) = run.links
    assert link.context.span_id == first.context.span_id
    assert link.attributes == {"django_interlink.link": "interrupted run"}
    stored = SagaExecution.objects.get(pk=execution.pk).trace_context
    assert stored["run"].split("-")[2] == f"{run.context.span_id:016x}"
    assert stored["traceparent"] == execution.trace_context["traceparent"]
