"""Draw a recorded scene as an SVG sequence diagram: one lifeline per party, one arrow per HTTP
request (method and path, the status and duration the stub answered with, request id and
Idempotency-Key) and per event (enqueued, relayed, consumed, skipped, dead-lettered, with its
id), and a band across for what happened to a process (a worker killed), top to bottom in the
order they happened.

Deterministic: the same recording gives the same bytes, so the docs can commit a drawing and a
test can regenerate it to see it is not stale (`python -m project.demo.report.sequence IN OUT`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from html import escape
from pathlib import Path

from .model import LIFELINES, EventInteraction, HttpInteraction, SceneRecording, load_recording

COL = 150  # between two lifelines
GUTTER = 64  # the time column, left of the first lifeline
HEAD = 44  # the lifelines' name boxes
ROW = 40  # one arrow: its label above, its ids below
BOX_W, BOX_H = 116, 26
FONT = 'font-family="sans-serif"'

STATUS_COLOURS = {2: "#2e8b57", 3: "#2874a6", 4: "#d35400", 5: "#c0392b"}
NO_ANSWER = "#7f8c8d"
EVENT_COLOURS = {
    "enqueued": "#6c3483",
    "relayed": "#6c3483",
    "published_raw": "#8e44ad",
    "consumed": "#1f618d",
    "skipped": "#7f8c8d",
    "dead_lettered": "#c0392b",
}


def _short(value: str | None, length: int = 8) -> str:
    if not value:
        return "—"
    return value if len(value) <= length else value[:length] + "…"


def _duration(ms: float | None) -> str:
    return "—" if ms is None else f"{ms:.1f} ms"


def _lifelines(recording: SceneRecording) -> list[str]:
    used = {"django"}
    for item in recording["interactions"]:
        if item["kind"] != "note":
            used.update((item["source"], item["target"]))
    return [name for name in LIFELINES if name in used] + sorted(used - set(LIFELINES))


def _arrow(x1: float, x2: float, y: float, colour: str, *, dashed: bool = False) -> str:
    head = -8 if x2 > x1 else 8
    dash = ' stroke-dasharray="5 3"' if dashed else ""
    return (
        f'<line x1="{x1:.0f}" y1="{y:.0f}" x2="{x2:.0f}" y2="{y:.0f}" stroke="{colour}" '
        f'stroke-width="1.6"{dash}/>'
        f'<path d="M{x2:.0f},{y:.0f} l{head},-4 l0,8 z" fill="{colour}"/>'
    )


def _http(item: HttpInteraction) -> tuple[str, str, str, str]:
    """(colour, label, ids line, full title) of one request."""
    status = item["status"]
    colour = NO_ANSWER if status is None else STATUS_COLOURS.get(status // 100, NO_ANSWER)
    answer = "no answer" if status is None else str(status)
    label = f"{item['method']} {item['path']}  → {answer} · {_duration(item['duration_ms'])}"
    ids = f"req {_short(item['request_id'])}"
    if item["idempotency_key"]:
        ids += f" · Idempotency-Key {_short(item['idempotency_key'], 28)}"
    title = (
        f"{item['method']} {item['path']} to {item['target']}: {answer} in "
        f"{_duration(item['duration_ms'])}; X-Request-ID {item['request_id']}; "
        f"Idempotency-Key {item['idempotency_key'] or 'none'}"
    )
    return colour, label, ids, title


def _event(item: EventInteraction) -> tuple[str, str, str, str]:
    colour = EVENT_COLOURS.get(item["action"], NO_ANSWER)
    action = item["action"].replace("_", "-")
    label = f"{action} {item['event_type']}"
    ids = f"event {_short(item['event_id'])}"
    if item["detail"]:
        ids += f" · {item['detail'][:48]}"
    title = f"{action} {item['event_type']} event {item['event_id'] or '(not an envelope)'}"
    if item["detail"]:
        title += f": {item['detail']}"
    return colour, label, ids, title


def render_sequence_svg(recording: SceneRecording) -> str:
    """The scene's calls and events as one SVG element (all text escaped)."""
    names = _lifelines(recording)
    x = {name: GUTTER + COL * i + COL / 2 for i, name in enumerate(names)}
    items = recording["interactions"]
    width = GUTTER + COL * len(names)
    height = HEAD + ROW * max(len(items), 1) + 24
    title = f"sequence of scene {recording['number']}: {recording['title']}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sequence-diagram" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" {FONT} style="width:100%;max-width:{width}px;height:auto">',
        f'<rect class="background" width="{width}" height="{height}" fill="#fff"/>',
    ]
    for name in names:
        cx = x[name]
        parts.append(
            f'<g class="lifeline" data-name="{escape(name)}">'
            f'<line x1="{cx:.0f}" y1="{HEAD - 8}" x2="{cx:.0f}" y2="{height - 8}" '
            'stroke="#b3b6b7" stroke-dasharray="3 3"/>'
            f'<rect x="{cx - BOX_W / 2:.0f}" y="6" width="{BOX_W}" height="{BOX_H}" rx="4" '
            'fill="#eef2f5" stroke="#5d6d7e"/>'
            f'<text x="{cx:.0f}" y="23" text-anchor="middle" font-size="12" '
            f'font-weight="bold" fill="#1b2631">{escape(name)}</text></g>'
        )
    if not items:
        parts.append(
            f'<text x="{GUTTER}" y="{HEAD + 22}" font-size="12" fill="#566573">'
            "no service call and no event in this scene</text>"
        )
    for row, item in enumerate(items):
        y = HEAD + ROW * row + 20
        if item["kind"] == "note":
            parts.append(
                f'<g class="interaction note"><title>{escape(item["text"])}</title>'
                f'<text x="4" y="{y + 4:.0f}" font-size="10" fill="#7f8c8d">'
                f"+{item['t_ms']:.0f} ms</text>"
                f'<rect x="{GUTTER + 8}" y="{y - 12:.0f}" width="{width - GUTTER - 16}" '
                f'height="24" rx="4" fill="#fdebd0" stroke="#d68910"/>'
                f'<text x="{GUTTER + 18}" y="{y + 4:.0f}" font-size="11" fill="#7e5109">'
                f"{escape(item['text'])}</text></g>"
            )
            continue
        if item["kind"] == "http":
            colour, label, ids, full = _http(item)
            kind = "http"
        else:
            colour, label, ids, full = _event(item)
            kind = f"event {item['action']}"
        x1, x2 = x[item["source"]], x[item["target"]]
        left = min(x1, x2) + 6
        parts.append(
            f'<g class="interaction {kind}"><title>{escape(full)}</title>'
            f'<text x="4" y="{y + 4:.0f}" font-size="10" fill="#7f8c8d">'
            f"+{item['t_ms']:.0f} ms</text>"
            f'<text x="{left:.0f}" y="{y - 5:.0f}" font-size="11" fill="{colour}">'
            f"{escape(label)}</text>"
            + _arrow(x1, x2, y, colour, dashed=item["kind"] == "event")
            + f'<text x="{left:.0f}" y="{y + 13:.0f}" font-size="9.5" fill="#566573">'
            f"{escape(ids)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Render one recording (JSON) to an SVG file, or to stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m project.demo.report.sequence", description=__doc__
    )
    parser.add_argument("recording", type=Path, help="a JSON recording (--record DIR wrote it)")
    parser.add_argument("svg", type=Path, nargs="?", help="where to write the SVG (default stdout)")
    args = parser.parse_args(argv)
    svg = render_sequence_svg(load_recording(args.recording)) + "\n"
    if args.svg is None:
        sys.stdout.write(svg)
    else:
        args.svg.write_text(svg, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
