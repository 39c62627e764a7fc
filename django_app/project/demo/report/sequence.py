"""Draw a recorded scene as an SVG sequence diagram: one lifeline per party, one arrow per HTTP
request (method and path, the status and duration the stub answered with, request id and
Idempotency-Key, and whether the stub replayed it) and per event (enqueued, rolled back,
relayed, consumed, skipped, dead-lettered, with its id), a note across for what happened to a
process (a worker killed), top to bottom in the order they happened; behind them, a band per
saga step attempt and for the scene's own set-up and checks (those calls greyed). The sizes
come from layout.py: nothing clips.

Deterministic: the same recording gives the same bytes, so the docs can commit a drawing and a
test can regenerate it to see it is not stale (`python -m project.demo.report.sequence IN OUT`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from html import escape
from pathlib import Path

from .layout import BAND, BAND_DETAIL, BOX_H, EMPTY, HEAD, IDS, LABEL, NOTE, TIME, Layout, layout
from .model import SceneRecording, SpanKind, load_recording

FONT = 'font-family="sans-serif"'

STATUS_COLOURS = {2: "#2e8b57", 3: "#2874a6", 4: "#d35400", 5: "#c0392b"}
NO_ANSWER = "#7f8c8d"
EVENT_COLOURS = {
    "enqueued": "#6c3483",
    "rolled_back": "#7f8c8d",
    "relayed": "#6c3483",
    "published_raw": "#8e44ad",
    "consumed": "#1f618d",
    "skipped": "#7f8c8d",
    "dead_lettered": "#c0392b",
}
REPLAY = "#1a5276"
# A set-up or check call: drawn, but greyed, so the scene's point stands out.
GREYED = "#a6acaf"
BAND_FILL: dict[SpanKind, tuple[str, str]] = {
    "action": ("#eef5fc", "#5d8fc4"),
    "compensation": ("#fdf0ef", "#c0392b"),
    "aside": ("#f4f6f6", "#aab7b8"),
}


def _arrow(x1: float, x2: float, y: float, colour: str, *, dashed: bool = False) -> str:
    head = -8 if x2 > x1 else 8
    dash = ' stroke-dasharray="5 3"' if dashed else ""
    return (
        f'<line x1="{x1:.0f}" y1="{y:.0f}" x2="{x2:.0f}" y2="{y:.0f}" stroke="{colour}" '
        f'stroke-width="1.6"{dash}/>'
        f'<path d="M{x2:.0f},{y:.0f} l{head},-4 l0,8 z" fill="{colour}"/>'
    )


def _bands(plan: Layout) -> list[str]:
    parts = []
    for band in plan.bands:
        fill, stroke = BAND_FILL[band.span["kind"]]
        top, height = band.top + 1, band.bottom - band.top - 2
        parts.append(
            f'<g class="band {band.span["kind"]}">'
            f'<rect x="2" y="{top:.0f}" width="{plan.width - 4:.0f}" height="{height:.0f}" '
            f'fill="{fill}"/>'
            f'<rect x="{plan.band_x:.0f}" y="{top:.0f}" width="3" height="{height:.0f}" '
            f'fill="{stroke}"/>'
            f'<text x="{plan.band_x + 10:.0f}" y="{band.top + 14:.0f}" font-size="{BAND}" '
            f'font-weight="bold" fill="{stroke}">{escape(band.span["label"])}</text>'
            f'<text x="{plan.band_x + 10:.0f}" y="{band.top + 27:.0f}" '
            f'font-size="{BAND_DETAIL}" fill="#566573">{escape(band.span["detail"])}</text></g>'
        )
    return parts


def render_sequence_svg(recording: SceneRecording) -> str:
    """The scene's calls and events as one SVG element (all text escaped)."""
    plan = layout(recording)
    width, height = round(plan.width), round(plan.height)
    title = f"sequence of scene {recording['number']}: {recording['title']}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sequence-diagram" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" {FONT} style="width:100%;max-width:{width}px;height:auto">',
        f'<rect class="background" width="{width}" height="{height}" fill="#fff"/>',
        *_bands(plan),
    ]
    for name in plan.names:
        cx, box = plan.x[name], plan.box_w[name]
        parts.append(
            f'<g class="lifeline" data-name="{escape(name)}">'
            f'<line x1="{cx:.0f}" y1="{HEAD - 8}" x2="{cx:.0f}" y2="{height - 8}" '
            'stroke="#b3b6b7" stroke-dasharray="3 3"/>'
            f'<rect x="{cx - box / 2:.0f}" y="6" width="{box:.0f}" height="{BOX_H}" rx="4" '
            'fill="#eef2f5" stroke="#5d6d7e"/>'
            f'<text x="{cx:.0f}" y="23" text-anchor="middle" font-size="12" '
            f'font-weight="bold" fill="#1b2631">{escape(name)}</text></g>'
        )
    if not plan.rows:
        parts.append(
            f'<text x="{plan.gutter:.0f}" y="{HEAD + 22}" font-size="12" fill="#566573">'
            f"{EMPTY}</text>"
        )
    for row in plan.rows:
        item = recording["interactions"][row.index]
        y = row.y
        at = (
            f'<text x="4" y="{y + 4:.0f}" font-size="{TIME}" fill="#7f8c8d">'
            f"+{item['t_ms']:.0f} ms</text>"
        )
        if item["kind"] == "note":
            parts.append(
                f'<g class="interaction note"><title>{escape(row.title)}</title>{at}'
                f'<rect x="{plan.gutter + 8:.0f}" y="{y - 12:.0f}" '
                f'width="{plan.band_x - plan.gutter - 16:.0f}" '
                f'height="24" rx="4" fill="#fdebd0" stroke="#d68910"/>'
                f'<text x="{plan.gutter + 18:.0f}" y="{y + 4:.0f}" font-size="{NOTE}" '
                f'fill="#7e5109">{escape(row.lines[0])}</text></g>'
            )
            continue
        if item["kind"] == "http":
            status = item["status"]
            colour = NO_ANSWER if status is None else STATUS_COLOURS.get(status // 100, NO_ANSWER)
            kind = "http"
        else:
            colour = EVENT_COLOURS.get(item["action"], NO_ANSWER)
            kind = f"event {item['action']}"
        aside = row.span is not None and row.span["kind"] == "aside"
        ink = GREYED if aside else "#566573"
        if aside:
            colour, kind = GREYED, f"{kind} aside"
        replay = len(row.lines) > 2
        if replay:
            kind += " replay"
        x1, x2 = plan.x[item["source"]], plan.x[item["target"]]
        left = min(x1, x2) + 6
        parts.append(
            f'<g class="interaction {kind}"><title>{escape(row.title)}</title>{at}'
            f'<text x="{left:.0f}" y="{y - 5:.0f}" font-size="{LABEL}" fill="{colour}">'
            f"{escape(row.lines[0])}</text>"
            + _arrow(x1, x2, y, colour, dashed=item["kind"] == "event")
            + f'<text x="{left:.0f}" y="{y + 13:.0f}" font-size="{IDS}" fill="{ink}">'
            f"{escape(row.lines[1])}</text>"
        )
        if replay:
            parts.append(
                f'<text class="replay-note" x="{left:.0f}" y="{y + 26:.0f}" font-size="{IDS}" '
                f'font-weight="bold" fill="{GREYED if aside else REPLAY}">'
                f"{escape(row.lines[2])}</text>"
            )
        parts.append("</g>")
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
