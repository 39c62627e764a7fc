"""Draw a scene's trace as an SVG waterfall: one row a span, its name indented under its
parent on the left (with the process that made it, when another than its parent's), its bar on
a shared time axis from its start to its end, coloured by its kind (the saga's runs and steps,
the calls to the services, the relay's publishes, the consumers' handling), outlined red when
the span failed; its duration after the bar.

The name column is as wide as its widest indented name and the drawing as wide as its widest
bar plus its duration (textwidth.py), so no text is clipped. Deterministic: the same spans give
the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from .model import TraceSpan
from .textwidth import text_width

FONT = 'font-family="sans-serif"'
NAME, DETAIL, AXIS = 11.0, 9.5, 9.5  # font sizes (px)
ROW = 22
TOP = 34  # the legend and the axis above the rows
INDENT = 14
PAD = 8
BARS = 560.0  # the time axis's width
BAR_H = 12
EMPTY = "no span in this scene's trace"
#: The bar's colour by span kind (compensations and failures are set apart on top of it).
COLOURS = {
    "server": "#2874a6",
    "client": "#1e8449",
    "producer": "#b9770e",
    "consumer": "#7d3c98",
    "internal": "#5d6d7e",
}
COMPENSATION = "#c0392b"
LEGEND = (
    ("saga run / step", "internal"),
    ("service call", "client"),
    ("publish", "producer"),
    ("process", "consumer"),
    ("a service answers", "server"),
)


def _crossings(spans: Sequence[TraceSpan]) -> dict[str, str]:
    """The spans another process made than their parent's (a worker, the relay, a consumer):
    their label names that process's service."""
    service = {span["span_id"]: span["service"] for span in spans}
    return {
        span["span_id"]: span["service"]
        for span in spans
        if span["parent_id"] in service and service[span["parent_id"]] != span["service"]
    }


def ordered(spans: Sequence[TraceSpan]) -> list[tuple[int, TraceSpan]]:
    """The spans depth first (each child under its parent, siblings by start), with depth."""
    children: dict[str | None, list[TraceSpan]] = {}
    for span in spans:
        children.setdefault(span["parent_id"], []).append(span)
    rows: list[tuple[int, TraceSpan]] = []

    def walk(parent: str | None, depth: int) -> None:
        # Stable: spans that start in the same tenth of a millisecond keep the trace's order.
        for span in sorted(children.get(parent, []), key=lambda s: s["start_ms"]):
            rows.append((depth, span))
            walk(span["span_id"], depth + 1)

    walk(None, 0)
    return rows


def _label(span: TraceSpan, crossings: dict[str, str] | None = None) -> str:
    parts = [span["name"], span["detail"], f"in {(crossings or {}).get(span['span_id'], '')}"]
    return " · ".join(part for part in parts if part and part != "in ")


def _duration(span: TraceSpan) -> str:
    return f"{span['end_ms'] - span['start_ms']:.1f} ms"


def _colour(span: TraceSpan) -> str:
    if span["kind"] == "internal" and " compensation " in span["name"]:
        return COMPENSATION
    return COLOURS.get(span["kind"], COLOURS["internal"])


def render_waterfall_svg(spans: Sequence[TraceSpan], *, title: str) -> str:
    """The trace as one SVG element (all text escaped)."""
    rows = ordered(spans)
    crossings = _crossings(spans)
    names = max(
        [depth * INDENT + text_width(_label(span, crossings), NAME) for depth, span in rows]
        + [text_width(EMPTY, NAME)]
    )
    left = PAD + names + 2 * PAD
    start = min((s["start_ms"] for s in spans), default=0.0)
    end = max((s["end_ms"] for s in spans), default=start + 1.0)
    scale = BARS / max(end - start, 1.0)
    right = max(
        [
            (span["end_ms"] - start) * scale + PAD + text_width(_duration(span), DETAIL)
            for _, span in rows
        ]
        + [BARS]
    )
    legend = sum(text_width(text, DETAIL) + 26 for text, _ in LEGEND)
    width = round(max(left + right + PAD, legend + 2 * PAD))
    height = round(TOP + ROW * max(len(rows), 1) + PAD)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trace-waterfall" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" {FONT} style="width:100%;max-width:{width}px;height:auto">',
        f'<rect class="background" width="{width}" height="{height}" fill="#fff"/>',
    ]
    x = float(PAD)
    for text, kind in LEGEND:
        parts.append(
            f'<g class="legend"><rect x="{x:.0f}" y="6" width="12" height="10" '
            f'fill="{COLOURS[kind]}"/><text x="{x + 16:.0f}" y="15" font-size="{DETAIL}" '
            f'fill="#566573">{escape(text)}</text></g>'
        )
        x += text_width(text, DETAIL) + 26
    parts.append(
        f'<text class="axis" x="{left:.0f}" y="{TOP - 4}" font-size="{AXIS}" fill="#7f8c8d">'
        f"+{start:.0f} ms</text>"
        f'<text class="axis" x="{left + BARS:.0f}" y="{TOP - 4}" font-size="{AXIS}" '
        f'text-anchor="end" fill="#7f8c8d">+{end:.0f} ms</text>'
    )
    if not rows:
        parts.append(
            f'<text x="{PAD}" y="{TOP + 15}" font-size="{NAME}" fill="#566573">{EMPTY}</text>'
        )
    for n, (depth, span) in enumerate(rows):
        y = TOP + n * ROW
        x0 = left + (span["start_ms"] - start) * scale
        bar = max((span["end_ms"] - span["start_ms"]) * scale, 1.5)
        outline = ' stroke="#922b21" stroke-width="2"' if span["error"] else ""
        parts.append(
            f'<g class="span {escape(span["kind"])}{" error" if span["error"] else ""}" '
            f'data-name="{escape(span["name"])}"><title>{escape(_label(span, crossings))} '
            f"({escape(span['service'])}, {_duration(span)})</title>"
            f'<text x="{PAD + depth * INDENT}" y="{y + 15}" font-size="{NAME}" '
            f'fill="#1b2631">{escape(_label(span, crossings))}</text>'
            f'<rect x="{x0:.1f}" y="{y + 5}" width="{bar:.1f}" height="{BAR_H}" rx="2" '
            f'fill="{_colour(span)}"{outline}/>'
            f'<text x="{x0 + bar + PAD / 2:.1f}" y="{y + 15}" font-size="{DETAIL}" '
            f'fill="#566573">{_duration(span)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
