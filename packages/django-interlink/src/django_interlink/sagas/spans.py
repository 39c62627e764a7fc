"""A saga's spans: one `saga <type>` span a run, one `saga <type> step|compensation <step>` span
an attempt, in the trace of whoever started the saga.

The execution row keeps the starter's context (`traceparent`, `tracestate`) and `run`, the
`traceparent` of the run that last ran it. Every run is a child of the starter's span; a run
that takes over a saga (its worker died, its lease lapsed) links to the run it interrupted, so
the trace shows both runs and what joins them. A saga started with tracing off gets its first
run's context as its origin.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Link, Span

from ..models.sagas import SagaExecution
from ..tracing import capture, record_request_id, restore, tracer

RUN_KEY = "run"
SAGA_ID_ATTRIBUTE = "django_interlink.saga.id"
LINK_REASON = "django_interlink.link"


@contextmanager
def saga_run_span(execution: SagaExecution) -> Iterator[Span]:
    """The span of one run of `execution`; sets `execution.trace_context` for the store to write
    with the run's first move (its origin, and this run as the one a successor links to)."""
    stored = dict(execution.trace_context or {})
    interrupted = trace.get_current_span(restore({"traceparent": stored.pop(RUN_KEY, "")}))
    links = []
    if interrupted.get_span_context().is_valid:
        links.append(Link(interrupted.get_span_context(), {LINK_REASON: "interrupted run"}))
    with tracer().start_as_current_span(
        f"saga {execution.saga_type}",
        context=restore(stored) if stored else None,
        links=links,
        attributes={
            SAGA_ID_ATTRIBUTE: execution.saga_id,
            "django_interlink.saga.resumed": bool(links),
        },
    ) as span:
        record_request_id(span)
        here = capture()
        if here:
            execution.trace_context = {**(stored or here), RUN_KEY: here["traceparent"]}
        yield span


@contextmanager
def step_span(execution: SagaExecution, step: str, direction: str, attempt: int) -> Iterator[Span]:
    """One attempt of a step's action (or compensation); an exception marks it failed."""
    kind = "step" if direction == "action" else "compensation"
    with tracer().start_as_current_span(
        f"saga {execution.saga_type} {kind} {step}",
        attributes={
            SAGA_ID_ATTRIBUTE: execution.saga_id,
            "django_interlink.saga.step": step,
            "django_interlink.saga.direction": direction,
            "django_interlink.saga.attempt": attempt,
        },
    ) as span:
        record_request_id(span)
        yield span
