"""The SVG timeline: bars on a shared time axis, interrupted attempts and errors visible."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.utils import timezone

from django_interlink.models import SagaExecution, SagaStepLog
from django_interlink.sagas.timeline import (
    LABEL_W,
    PLOT_W,
    ROW,
    TOP,
    WIDTH,
    format_duration,
    timeline_svg,
)

SVG = "{http://www.w3.org/2000/svg}"

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


def _bar(svg: str, row: int) -> tuple[float, float]:
    """(x, width) of the bar in `row` (0-based)."""
    root = ElementTree.fromstring(svg)  # noqa: S314  (our own output)
    group = root.findall(f"{SVG}g")[row]
    rect = group.find(f"{SVG}rect")
    assert rect is not None
    return float(rect.get("x", "nan")), float(rect.get("width", "nan"))


def _ticks(svg: str) -> list[str]:
    """The axis labels, left to right."""
    root = ElementTree.fromstring(svg)  # noqa: S314
    return [t.text or "" for t in root.iter(f"{SVG}text") if t.get("y") == f"{TOP - 16:.1f}"]


def test_dead_attempt_ends_where_the_next_attempt_resumed_not_now():
    """A crashed attempt followed by a resumed one is drawn up to the resume: an hour later,
    the axis still spans the saga's 300 ms, not the hour since."""
    execution = SagaExecution.objects.create(saga_id="r", saga_type="x")
    logs = [
        _log(execution, "pay", "action", "running", 0, None),
        _log(execution, "pay", "action", "succeeded", 200, 300),
    ]
    now = execution.created_at + timedelta(hours=1)
    svg = str(timeline_svg(logs, now=now))
    x, width = _bar(svg, 0)
    assert (x, width) == pytest.approx((LABEL_W, PLOT_W * 200 / 300), abs=0.1)
    assert "resumed 200.0 ms later" in svg
    assert "interrupted (process died)" in svg
    assert _ticks(svg)[-1] == "300 ms"  # the axis spans the saga, not the hour since


def test_last_unfinished_attempt_is_running_under_a_live_lease_and_dead_after_it_lapsed():
    """Live lease: the attempt is "running" (not called dead); lapsed lease: interrupted, and
    drawn only up to the lapse."""
    execution = SagaExecution.objects.create(saga_id="l", saga_type="x")
    logs = [
        _log(execution, "reserve", "action", "succeeded", 0, 100),
        _log(execution, "pay", "action", "running", 100, None),
    ]
    t0 = execution.created_at
    live = str(
        timeline_svg(
            logs, now=t0 + timedelta(seconds=1), lease_expires_at=t0 + timedelta(seconds=5)
        )
    )
    assert '<g class="attempt action running">' in live
    assert "running · 900.0 ms so far" in live
    assert "interrupted (process died)" not in live
    lapsed = str(
        timeline_svg(
            logs, now=t0 + timedelta(days=2), lease_expires_at=t0 + timedelta(milliseconds=400)
        )
    )
    assert '<g class="attempt action interrupted">' in lapsed
    assert "lease lapsed 300.0 ms in, not resumed yet" in lapsed
    x, width = _bar(lapsed, 1)
    assert (x, width) == pytest.approx((LABEL_W + PLOT_W / 4, PLOT_W * 3 / 4), abs=0.1)


def test_drawing_scales_to_its_column_and_keeps_every_text_inside_it():
    """The SVG scales to the column (width 100%) and no label or note starts outside it."""
    execution = SagaExecution.objects.create(saga_id="w", saga_type="x")
    long_error = "ServiceUnavailable 500: payments.refundPayment -> 500 " * 5
    logs = [
        _log(execution, "reserve_inventory", "action", "succeeded", 0, 10, error=long_error),
        _log(execution, "process_payment", "compensation", "failed", 990, 1000, error="HTTP 503"),
    ]
    svg = str(timeline_svg(logs, now=timezone.now()))
    root = ElementTree.fromstring(svg)  # noqa: S314
    assert "width:100%" in root.get("style", "")
    assert root.get("viewBox") == f"0 0 {WIDTH} {root.get('height')}"
    for text in root.iter(f"{SVG}text"):
        assert 0 <= float(text.get("x", "nan")) <= WIDTH
    notes = {t.text: t for t in root.iter(f"{SVG}text") if t.get("font-size") == "11"}
    # a long note is cut with an ellipsis and starts at the plot's left edge
    (cut,) = [t for text, t in notes.items() if text and "ServiceUnavailable" in text]
    assert (cut.text or "").endswith("…")
    assert (cut.get("x"), cut.get("text-anchor")) == (f"{LABEL_W:.1f}", "start")
    # the late bar's note ends where the bar ends, instead of running off the right edge
    late = notes["10.0 ms · failed · HTTP 503"]
    assert (late.get("x"), late.get("text-anchor")) == (f"{LABEL_W + PLOT_W:.1f}", "end")


@pytest.mark.parametrize(
    ("ms", "text"),
    [(7.44, "7.4 ms"), (1210.0, "1.21 s"), (125_000.0, "2 min 05 s"), (7_380_000.0, "2 h 03 min")],
)
def test_durations_read_in_the_unit_that_fits(ms, text):
    """Milliseconds below a second, then seconds, minutes, hours."""
    assert format_duration(ms) == text


@pytest.mark.parametrize(
    ("span_ms", "ticks"),
    [
        (200.0, ["0", "50 ms", "100 ms", "150 ms", "200 ms"]),
        (1_005.0, ["0", "500 ms", "1000 ms"]),
        (2_500.0, ["0", "0.5 s", "1 s", "1.5 s", "2 s", "2.5 s"]),
        (95_000.0, ["0", "30 s", "60 s", "90 s"]),
        (3 * 3_600_000.0, ["0", "1 h", "2 h", "3 h"]),
    ],
)
def test_axis_ticks_use_steps_a_clock_reads(span_ms, ticks):
    """A saga resumed hours later gets an axis in hours, not in thousands of seconds."""
    execution = SagaExecution.objects.create(saga_id=f"a{span_ms}", saga_type="x")
    logs = [_log(execution, "pay", "action", "succeeded", 0, span_ms)]
    assert _ticks(str(timeline_svg(logs, now=timezone.now()))) == ticks


def test_an_attempt_whose_worker_is_known_dead_is_hatched_before_its_lease_lapses():
    """A live lease means "running" (yellow) unless the caller knows its worker died: then
    the attempt is interrupted (hatched), with when the lease lapses."""
    execution = SagaExecution.objects.create(saga_id="dead", saga_type="x")
    logs = [_log(execution, "pay", "action", "running", 0, None)]
    now = execution.created_at + timedelta(milliseconds=500)
    lease = now + timedelta(seconds=2)
    alive = str(timeline_svg(logs, now=now, lease_expires_at=lease))
    assert '<g class="attempt action running">' in alive
    hatched = 'fill="url(#interrupted)"'
    assert alive.count(hatched) == 1  # the legend's swatch only
    dead = str(timeline_svg(logs, now=now, lease_expires_at=lease, owner_dead=True))
    assert '<g class="attempt action interrupted">' in dead
    assert dead.count(hatched) == 2  # the bar and the legend's swatch
    assert "its worker died; the lease lapses in 2.00 s" in dead
