"""Draw a saga's step log as an inline SVG timeline: one bar per attempt, on a shared time axis.

Actions and compensations get different colours, failures and interrupted attempts stand out,
and each bar carries its duration and error (also as a hover title). Rendered server-side so the
admin needs no JavaScript.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from ..models.sagas import SagaStepLog, StepDirection, StepLogStatus

ROW = 26
BAR = 16
LABEL_W = 250
PLOT_W = 520
NOTE_W = 330
TOP = 30

COLOURS: dict[tuple[str, str], str] = {
    (StepDirection.ACTION, StepLogStatus.SUCCEEDED): "#2e8b57",
    (StepDirection.ACTION, StepLogStatus.FAILED): "#e67e22",
    (StepDirection.ACTION, StepLogStatus.REJECTED): "#c0392b",
    (StepDirection.COMPENSATION, StepLogStatus.SUCCEEDED): "#2874a6",
    (StepDirection.COMPENSATION, StepLogStatus.FAILED): "#922b21",
}
INTERRUPTED = "#95a5a6"


def _ms(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() * 1000


def _text(
    x: float, y: float, body: str, *, size: int = 11, anchor: str = "start", **kw: str
) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in kw.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"'
        f"{extra}>{escape(body)}</text>"
    )


def timeline_svg(logs: Sequence[SagaStepLog], *, now: datetime | None = None) -> SafeString:
    """The attempts as an SVG document fragment (safe to embed in HTML: all text is escaped)."""
    if not logs:
        return mark_safe('<p class="saga-timeline-empty">No step has run yet.</p>')
    now = now or timezone.now()
    start = min(log.started_at for log in logs)
    ends = [log.finished_at or now for log in logs]
    span = max(_ms(start, max(ends)), 1.0)
    height = TOP + ROW * len(logs) + 34
    width = LABEL_W + PLOT_W + NOTE_W
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="saga-timeline" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="saga step timeline" font-family="sans-serif">',
        '<pattern id="interrupted" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="3" height="6" fill="#95a5a6"/></pattern>',
        _text(LABEL_W, 14, "0 ms", size=10, fill="#555"),
        _text(LABEL_W + PLOT_W, 14, f"{span:.0f} ms", size=10, anchor="end", fill="#555"),
        f'<line x1="{LABEL_W}" y1="{TOP - 8}" x2="{LABEL_W + PLOT_W}" y2="{TOP - 8}" '
        'stroke="#bbb"/>',
    ]
    for row, (log, end) in enumerate(zip(logs, ends, strict=True)):
        y = TOP + row * ROW
        x = LABEL_W + PLOT_W * _ms(start, log.started_at) / span
        w = max(PLOT_W * _ms(log.started_at, end) / span, 2.0)
        interrupted = log.finished_at is None
        fill = (
            "url(#interrupted)"
            if interrupted
            else COLOURS.get((log.direction, log.status), INTERRUPTED)
        )
        kind = "undo" if log.direction == StepDirection.COMPENSATION else "do"
        label = f"{log.step_name} · {kind} #{log.attempt}"
        duration = f"{_ms(log.started_at, end):.1f} ms"
        state = "interrupted (process died)" if interrupted else str(log.status)
        note = f"{duration} · {state}"
        if log.error:
            note += f" · {log.error[:60]}"
        title = f"{label}: {state}, {duration}" + (f"\n{log.error}" if log.error else "")
        if log.direction == StepDirection.COMPENSATION:
            parts.append(
                f'<rect x="0" y="{y - 3}" width="{width}" height="{ROW - 2}" fill="#fbeee6" />'
            )
        parts.append(
            f'<g class="attempt {escape(log.direction)} {escape(log.status)}">'
            f"<title>{escape(title)}</title>"
            + _text(LABEL_W - 8, y + BAR - 4, label, anchor="end")
            + f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR}" rx="3" '
            f'fill="{fill}" stroke="#333" stroke-width="0.5"/>'
            + _text(LABEL_W + PLOT_W + 8, y + BAR - 4, note, size=10, fill="#333")
            + "</g>"
        )
    legend_y = TOP + ROW * len(logs) + 16
    legend = [
        ("action ok", COLOURS[(StepDirection.ACTION, StepLogStatus.SUCCEEDED)]),
        ("action failed", COLOURS[(StepDirection.ACTION, StepLogStatus.FAILED)]),
        ("rejected", COLOURS[(StepDirection.ACTION, StepLogStatus.REJECTED)]),
        ("undo ok", COLOURS[(StepDirection.COMPENSATION, StepLogStatus.SUCCEEDED)]),
        ("undo failed", COLOURS[(StepDirection.COMPENSATION, StepLogStatus.FAILED)]),
        ("interrupted", INTERRUPTED),
    ]
    for i, (name, colour) in enumerate(legend):
        lx = LABEL_W + i * 110
        parts.append(
            f'<rect x="{lx}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>'
            + _text(lx + 14, legend_y, name, size=10)
        )
    parts.append("</svg>")
    # Every interpolated string above went through escape(); numbers are formatted floats.
    return mark_safe("".join(parts))  # noqa: S308
