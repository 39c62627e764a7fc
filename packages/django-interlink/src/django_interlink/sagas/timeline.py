"""Draw a saga's step log as an inline SVG timeline: one bar per attempt, on a shared time axis.

Actions and compensations get different colours (and undo rows a tinted band), failures and
interrupted attempts stand out, and each bar has a line under it with its duration, outcome and
error (the full text is the hover title). Rendered server-side so the admin needs no JavaScript.

An attempt with no `finished_at` is one of two things: the attempt a live worker is running
now (the saga's lease has not expired), or one whose process died. A dead attempt's end is
unknown; it is drawn hatched up to the moment the death was noticed: the next attempt's start
(another worker resumed the saga), else the lapse of the saga's lease, else `now`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from ..models.sagas import SagaStepLog, StepDirection, StepLogStatus

WIDTH = 860  # the drawing's own units; the SVG scales down to narrower columns
LABEL_W = 200  # step names, right-aligned, left of the plot
PLOT_W = WIDTH - LABEL_W - 16
ROW = 34  # a bar and, under it, its note line
BAR = 14
TOP = 34
MIN_BAR = 3.0
LABEL_CHARS = 30  # longer step names are cut (the title keeps the whole name)
NOTE_CHARS = 105
NOTE_CHAR_W = 6.2  # a generous average advance of an 11px sans-serif character

COLOURS: dict[tuple[str, str], str] = {
    (StepDirection.ACTION, StepLogStatus.SUCCEEDED): "#2e8b57",
    (StepDirection.ACTION, StepLogStatus.FAILED): "#e67e22",
    (StepDirection.ACTION, StepLogStatus.REJECTED): "#c0392b",
    (StepDirection.COMPENSATION, StepLogStatus.SUCCEEDED): "#2874a6",
    (StepDirection.COMPENSATION, StepLogStatus.FAILED): "#6c3483",
}
INTERRUPTED = "#95a5a6"
RUNNING = "#f1c40f"
UNDO_BAND = "#fbeee6"
ERROR_TEXT = "#a93226"


def _ms(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() * 1000


def format_duration(ms: float) -> str:
    """7.4 ms, 1.21 s, 2 min 05 s: a duration a person reads at a glance."""
    if ms < 1000:
        return f"{ms:.1f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


SECOND, MINUTE, HOUR, DAY = 1000.0, 60_000.0, 3_600_000.0, 86_400_000.0
# Tick steps a clock reads well: 1-2-5 below a second, then whole seconds, minutes, hours, days.
TICK_STEPS = [
    *(f * 10.0**e for e in range(-1, 3) for f in (1, 2, 5)),
    *(n * SECOND for n in (1, 2, 5, 10, 15, 30)),
    *(n * MINUTE for n in (1, 2, 5, 10, 15, 30)),
    *(n * HOUR for n in (1, 2, 3, 6, 12)),
    *(n * DAY for n in (1, 2, 7, 14, 30)),
]


def _tick_step(span: float) -> float:
    """The smallest clock-friendly step giving at most about six ticks over `span` ms."""
    for step in TICK_STEPS:
        if step >= span / 5:
            return step
    return math.ceil(span / 5 / DAY) * DAY


def _tick_label(ms: float, step: float, span: float) -> str:
    """In the largest unit the axis spans twice (2.5 s reads "0.5 s, 1 s, ...")."""
    if ms == 0:
        return "0"
    for unit, name in ((DAY, "d"), (HOUR, "h"), (MINUTE, "min"), (SECOND, "s")):
        if span >= 2 * unit and step >= unit / 2:
            return f"{round(ms / unit, 3):g} {name}"
    return f"{round(ms, 3):g} ms"


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())  # one line: tracebacks and messages may hold newlines
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(
    x: float, y: float, body: str, *, size: int = 12, anchor: str = "start", **kw: str
) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in kw.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"'
        f"{extra}>{escape(body)}</text>"
    )


def _note(x: float, w: float, y: float, body: str, *, error: bool) -> str:
    """The line under a bar, kept near it: from the bar's start, or ending at the bar's end
    when it would run past the plot, or from the plot's left edge when neither fits."""
    width = NOTE_CHAR_W * len(body)
    if x + width <= LABEL_W + PLOT_W:
        nx, anchor = x, "start"
    elif x + w - width >= LABEL_W:
        nx, anchor = x + w, "end"
    else:
        nx, anchor = float(LABEL_W), "start"
    return _text(nx, y, body, size=11, anchor=anchor, fill=ERROR_TEXT if error else "#444")


@dataclass(frozen=True)
class Attempt:
    """One step-log row as the timeline reads it."""

    log: SagaStepLog
    end: datetime  # finished_at, or where the drawing stops for an unfinished attempt
    state: str  # the log status, or "running" (live worker) or "interrupted" (dead one)
    note: str  # what happened to the end of an unfinished attempt ("" when it finished)


def read_attempts(
    logs: Sequence[SagaStepLog],
    *,
    now: datetime,
    lease_expires_at: datetime | None = None,
    owner_dead: bool = False,
) -> list[Attempt]:
    """Each attempt with its drawn end and state; see the module docstring for unfinished ones.

    `lease_expires_at` is the saga's lease (None when no worker holds it): a live lease makes
    the last unfinished attempt "running", a lapsed one dates its worker's death. `owner_dead`:
    the caller knows the lease's owner has died (a supervisor saw its process exit), so a live
    lease no longer means a running attempt: it is interrupted, and waits for the lease to lapse.
    """
    out: list[Attempt] = []
    for i, log in enumerate(logs):
        if log.finished_at is not None:
            out.append(Attempt(log, log.finished_at, log.outcome, ""))
            continue
        later = [other.started_at for other in logs[i + 1 :]]
        if later:
            end = max(min(later), log.started_at)
            note = f"no end recorded; resumed {format_duration(_ms(log.started_at, end))} later"
            out.append(Attempt(log, end, "interrupted", note))
        elif lease_expires_at is not None and lease_expires_at > now and owner_dead:
            end = max(now, log.started_at)
            note = (
                "no end recorded; its worker died; the lease lapses in"
                f" {format_duration(_ms(now, lease_expires_at))}"
            )
            out.append(Attempt(log, end, "interrupted", note))
        elif lease_expires_at is not None and lease_expires_at > now:
            so_far = format_duration(_ms(log.started_at, now))
            out.append(Attempt(log, now, "running", f"{so_far} so far"))
        elif lease_expires_at is not None:
            end = max(lease_expires_at, log.started_at)
            note = (
                "no end recorded; the worker's lease lapsed"
                f" {format_duration(_ms(log.started_at, end))} in, not resumed yet"
            )
            out.append(Attempt(log, end, "interrupted", note))
        else:
            out.append(Attempt(log, max(now, log.started_at), "interrupted", "no end recorded"))
    return out


def timeline_svg(
    logs: Sequence[SagaStepLog],
    *,
    now: datetime | None = None,
    lease_expires_at: datetime | None = None,
    owner_dead: bool = False,
) -> SafeString:
    """The attempts as an SVG document fragment (safe to embed in HTML: all text is escaped)."""
    if not logs:
        return mark_safe('<p class="saga-timeline-empty">No step has run yet.</p>')
    now = now or timezone.now()
    attempts = read_attempts(
        logs, now=now, lease_expires_at=lease_expires_at, owner_dead=owner_dead
    )
    start = min(a.log.started_at for a in attempts)
    span = max(max(_ms(start, a.end) for a in attempts), 1.0)
    plot_bottom = TOP + ROW * len(attempts)
    height = plot_bottom + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="saga-timeline" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="saga step timeline" font-family="sans-serif" '
        f'style="width:100%;max-width:{WIDTH}px;height:auto">',
        # Its own light card: the dark text stays readable under the admin's dark theme.
        f'<rect class="background" width="{WIDTH}" height="{height}" fill="#fff"/>',
        '<pattern id="interrupted" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eceff0"/>'
        f'<rect width="3" height="6" fill="{INTERRUPTED}"/></pattern>',
    ]
    # Undo rows first, so the axis grid is drawn over their bands.
    for row, a in enumerate(attempts):
        if a.log.direction == StepDirection.COMPENSATION:
            y = TOP + row * ROW
            parts.append(
                f'<rect class="undo-band" x="0" y="{y - 5}" width="{WIDTH}" height="{ROW}" '
                f'fill="{UNDO_BAND}"/>'
            )
    step = _tick_step(span)
    tick = 0.0
    while tick <= span + step * 1e-6:
        x = LABEL_W + PLOT_W * tick / span
        anchor = "start" if tick == 0 else "middle"
        if x > LABEL_W + PLOT_W - 30 and tick > 0:
            anchor = "end"
        parts.append(
            f'<line x1="{x:.1f}" y1="{TOP - 10}" x2="{x:.1f}" y2="{plot_bottom - 8}" '
            'stroke="#d5d8dc" stroke-width="1"/>'
            + _text(x, TOP - 16, _tick_label(tick, step, span), size=11, anchor=anchor, fill="#555")
        )
        tick += step
    parts.append(
        f'<line x1="{LABEL_W}" y1="{TOP - 10}" x2="{LABEL_W + PLOT_W}" y2="{TOP - 10}" '
        'stroke="#999"/>'
    )
    for row, a in enumerate(attempts):
        log = a.log
        y = TOP + row * ROW
        x = LABEL_W + PLOT_W * _ms(start, log.started_at) / span
        w = max(PLOT_W * _ms(log.started_at, a.end) / span, MIN_BAR)
        x = min(x, LABEL_W + PLOT_W - w)
        undo = log.direction == StepDirection.COMPENSATION
        if a.state == "interrupted":
            fill = "url(#interrupted)"
        elif a.state == "running":
            fill = RUNNING
        else:
            fill = COLOURS.get((log.direction, log.status), INTERRUPTED)
        kind = "undo" if undo else "do"
        label = f"{_cut(log.step_name, LABEL_CHARS)} · {kind} #{log.attempt}"
        duration = "" if a.note else format_duration(_ms(log.started_at, a.end))
        state = "interrupted (process died)" if a.state == "interrupted" else a.state
        note = " · ".join(part for part in (duration, state, a.note, log.error) if part)
        title = (
            f"{log.step_name} · {kind} #{log.attempt}: "
            + " · ".join(p for p in (duration, state, a.note) if p)
            + (f"\n{log.error}" if log.error else "")
        )
        open_end = a.state in ("interrupted", "running")
        error = bool(log.error) or a.state == "interrupted"
        parts.append(
            f'<g class="attempt {escape(log.direction)} {escape(a.state)}">'
            f"<title>{escape(title)}</title>"
            + _text(
                LABEL_W - 10,
                y + BAR - 2,
                label,
                anchor="end",
                fill="#1f3a5f" if undo else "#222",
                font_style="italic" if undo else "normal",
            )
            + f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR}" '
            f'rx="{min(3.0, w / 2):.1f}" fill="{fill}" stroke="#333" stroke-width="0.6"'
            + (' stroke-dasharray="4 2"' if open_end else "")
            + "/>"
            + _note(x, w, y + BAR + 12, _cut(note, NOTE_CHARS), error=error)
            + "</g>"
        )
    legend_y = plot_bottom + 14
    legend = [
        ("action ok", COLOURS[(StepDirection.ACTION, StepLogStatus.SUCCEEDED)]),
        ("action failed", COLOURS[(StepDirection.ACTION, StepLogStatus.FAILED)]),
        ("rejected", COLOURS[(StepDirection.ACTION, StepLogStatus.REJECTED)]),
        ("undo ok", COLOURS[(StepDirection.COMPENSATION, StepLogStatus.SUCCEEDED)]),
        ("undo failed", COLOURS[(StepDirection.COMPENSATION, StepLogStatus.FAILED)]),
        ("interrupted", "url(#interrupted)"),
        ("running", RUNNING),
    ]
    lx = 10.0
    for name, colour in legend:
        parts.append(
            f'<rect x="{lx:.1f}" y="{legend_y - 9}" width="10" height="10" fill="{colour}" '
            'stroke="#333" stroke-width="0.5"/>' + _text(lx + 14, legend_y, name, size=11)
        )
        lx += 14 + 7 * len(name) + 18
    parts.append("</svg>")
    # Every interpolated string above went through escape(); numbers are formatted floats.
    return mark_safe("".join(parts))  # noqa: S308
