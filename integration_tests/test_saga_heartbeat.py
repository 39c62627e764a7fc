"""The heartbeat on PostgreSQL, where it runs in a thread: one thread for a whole saga run (not
one per step), started before the first step and stopped before the run returns."""

from __future__ import annotations

import threading

import pytest

from django_interlink.models import SagaStatus
from django_interlink.sagas.definition import SagaDefinition, SagaStep, StepContext
from django_interlink.sagas.services import saga_execute

pytestmark = pytest.mark.django_db(transaction=True)

PREFIX = "saga-heartbeat:"


def heartbeat_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(PREFIX)]


def test_a_saga_run_starts_exactly_one_heartbeat_thread_and_stops_it(postgres, monkeypatch):
    """Four steps see the same single, live heartbeat thread of their saga; it was started
    once, and it is no longer running when saga_execute returns."""
    started: list[str] = []
    real_start = threading.Thread.start

    def recording_start(thread: threading.Thread) -> None:
        if thread.name.startswith(PREFIX):
            started.append(thread.name)
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", recording_start)
    seen: list[list[tuple[str, int | None, bool]]] = []

    def step(ctx: StepContext) -> None:
        seen.append([(t.name, t.ident, t.is_alive()) for t in heartbeat_threads()])

    definition = SagaDefinition(
        "test_heartbeat_saga", [SagaStep(name, step) for name in ("a", "b", "c", "d")]
    )
    result = saga_execute(definition=definition, saga_id="beats-once", context={})
    assert result.status == SagaStatus.COMPLETED
    assert started == [f"{PREFIX}beats-once"]
    assert len(seen) == 4
    assert all(threads == seen[0] for threads in seen)
    assert [(name, alive) for name, _, alive in seen[0]] == [(f"{PREFIX}beats-once", True)]
    assert heartbeat_threads() == []  # stopped (joined) before saga_execute returned
