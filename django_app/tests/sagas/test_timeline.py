"""The SVG timeline: bars on a shared time axis, interrupted attempts and errors visible."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from microservices.models import SagaExecution, SagaStepLog
from microservices.sagas.timeline import LABEL_W, PLOT_W, ROW, TOP, timeline_svg

pytestmark = pytest.mark.django_db


def _log(execution, name, direction, status, start_ms, end_ms, error=""):
    t0 = execution.created_at
    return SagaStepLog.objects.create(
        execution=execution,
        step_index=0,
        step_name=name,
        direction=direction,
        attempt=1,
        status=status,
        started_at=t0 + timedelta(milliseconds=start_ms),
        finished_at=None if end_ms is None else t0 + timedelta(milliseconds=end_ms),
        error=error,
    )


def test_bars_are_placed_on_a_shared_axis_and_interrupted_attempts_are_hatched():
    """Bar x and width follow start and duration; an unfinished attempt is drawn hatched."""
    execution = SagaExecution.objects.create(saga_id="t", saga_type="x")
    logs = [
        _log(execution, "reserve", "action", "succeeded", 0, 100),
        _log(execution, "pay", "action", "running", 100, None),
    ]
    now = execution.created_at + timedelta(milliseconds=200)
    svg = str(timeline_svg(logs, now=now))
    # the plot spans 200 ms: reserve covers its first half, pay its second
    half = PLOT_W / 2
    assert f'<rect x="{LABEL_W:.1f}" y="{TOP}" width="{half:.1f}"' in svg
    assert f'<rect x="{LABEL_W + half:.1f}" y="{TOP + ROW}" width="{half:.1f}"' in svg
    assert 'fill="url(#interrupted)"' in svg
    assert "interrupted (process died)" in svg
    assert "200 ms" in svg


def test_compensation_rows_and_errors_are_shown_escaped():
    """An undo row gets its band; an error with markup is escaped in the label and title."""
    execution = SagaExecution.objects.create(saga_id="u", saga_type="x")
    logs = [_log(execution, "pay", "compensation", "failed", 0, 5, error="<script>x</script>")]
    svg = str(timeline_svg(logs, now=timezone.now()))
    assert "pay · undo #1" in svg
    assert 'fill="#fbeee6"' in svg
    assert "&lt;script&gt;" in svg
    assert "<script>" not in svg
