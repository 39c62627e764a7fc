"""What bench/soak.py concludes from its samples, with no server and no Django: per series the
first, last and largest value and a plateau verdict, the summary table, and a small SVG plot.

The verdict's rule (PLATEAU_RULE, also written into bench/results/soak.json): a series **levels
off** when its largest value in the last third of the run is at most NOISE (5%) of its largest
value above the largest value it reached before that third; otherwise it **grows**. A table that
keeps every row sets a new high to the end; one whose purge keeps pace stays under the high its
sawtooth reached once its retention had passed, whatever the phase of the samples against the
purges (a slope fitted to a sawtooth sampled near its own period swings either way). The
least-squares rise of the first and of the last third is reported beside the verdict.

Ten minutes cannot show a leak slower than NOISE of a process's memory per third of the run: a
soak bounds growth, it does not prove there is none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from xml.sax.saxutils import escape

NOISE = 0.05
PLATEAU_RULE = (
    "A series levels off when its largest value in the last third of the run is at most "
    f"{NOISE:.0%} of its largest value above the largest value it reached before that third; "
    "otherwise it grows. rise_first_third and rise_last_third (least-squares slope x the "
    "third's length) are given for reading, not judged."
)


def slope(points: Sequence[tuple[float, float]]) -> float:
    """The least-squares slope of (t, value) points; 0 for fewer than two distinct times."""
    if len(points) < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread


@dataclass(frozen=True)
class Verdict:
    first: float
    last: float
    min: float
    max: float
    max_before_last_third: float
    max_last_third: float
    rise_first_third: float
    rise_last_third: float
    levels_off: bool


def verdict(points: Sequence[tuple[float, float]]) -> Verdict:
    """The plateau verdict of one series of (seconds since start, value) samples."""
    if not points:
        raise ValueError("a series needs at least one sample")
    start, end = points[0][0], points[-1][0]
    third = (end - start) / 3
    before = [v for t, v in points if t < end - third] or [points[0][1]]
    late = [v for t, v in points if t >= end - third]
    values = [v for _, v in points]
    peak = max(abs(v) for v in values)
    return Verdict(
        first=values[0],
        last=values[-1],
        min=min(values),
        max=max(values),
        max_before_last_third=max(before),
        max_last_third=max(late),
        rise_first_third=round(slope([p for p in points if p[0] <= start + third]) * third, 3),
        rise_last_third=round(slope([p for p in points if p[0] >= end - third]) * third, 3),
        levels_off=max(late) <= max(before) + NOISE * peak,
    )


def series_of(samples: Sequence[Mapping[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """{"t": seconds, "values": {name: value}} samples turned into one point list per name."""
    found: dict[str, list[tuple[float, float]]] = {}
    for sample in samples:
        for name, value in sample["values"].items():
            found.setdefault(name, []).append((float(sample["t"]), float(value)))
    return found


def judge(
    samples: Sequence[Mapping[str, Any]], *, not_judged: Iterable[str] = ()
) -> dict[str, dict[str, Any]]:
    """Every series' first/last/max and verdict; series whose name starts with one of
    `not_judged` are summarised but carry no verdict (`levels_off` is None)."""
    skip = tuple(not_judged)
    out: dict[str, dict[str, Any]] = {}
    for name, points in sorted(series_of(samples).items()):
        summary = asdict(verdict(points))
        if name.startswith(skip):
            summary["levels_off"] = None
        out[name] = summary
    return out


def table(summaries: Mapping[str, Mapping[str, Any]]) -> str:
    """The summary printed at the end: one line per series that changed, then how many never
    did (the JSON lists them all)."""
    moved = {name: s for name, s in summaries.items() if s["min"] != s["max"]}
    width = max((len(name) for name in moved), default=10)
    lines = [f"{'series':<{width}}  {'first':>10} {'last':>10} {'max':>10}  verdict"]
    for name, s in moved.items():
        said = {True: "levels off", False: "GROWS", None: "(not judged)"}[s["levels_off"]]
        lines.append(
            f"{name:<{width}}  {_fmt(s['first']):>10} {_fmt(s['last']):>10} "
            f"{_fmt(s['max']):>10}  {said}"
        )
    lines.append(f"({len(summaries) - len(moved)} more series never changed)")
    return "\n".join(lines)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2f}"


# -- the plot: one small panel per series that moved, green if it levels off, red if not ----

PANEL_W, PANEL_H, COLUMNS, PAD = 220, 110, 4, 10
INK, MUTED = "#1f2d3d", "#566573"
COLOURS = {True: "#1e8449", False: "#c0392b", None: "#566573"}


def svg(
    series: Mapping[str, Sequence[tuple[float, float]]],
    summaries: Mapping[str, Mapping[str, Any]],
    *,
    title: str,
) -> str:
    """Small multiples, each on its own scale from 0: a series that never changed is left out
    (the JSON keeps it). Plain presentation attributes, no <style>, as tools/diagrams/svg.py."""
    moving = [name for name, pts in series.items() if len({v for _, v in pts}) > 1]
    rows = max(1, -(-len(moving) // COLUMNS))
    width, height = COLUMNS * PANEL_W + PAD, rows * PANEL_H + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{PAD}" y="22" font-size="14" fill="{INK}">{escape(title)}</text>',
    ]
    for n, name in enumerate(moving):
        x0 = PAD + (n % COLUMNS) * PANEL_W
        y0 = 34 + (n // COLUMNS) * PANEL_H
        parts.extend(_panel(name, series[name], summaries[name], x0, y0))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _panel(
    name: str, points: Sequence[tuple[float, float]], summary: Mapping[str, Any], x0: int, y0: int
) -> list[str]:
    plot_w, plot_h = PANEL_W - 2 * PAD, PANEL_H - 40
    top = y0 + 18
    t_end = max(points[-1][0], 1e-9)
    v_max = max(max(v for _, v in points), 1e-9)
    coords = " ".join(
        f"{x0 + plot_w * t / t_end:.1f},{top + plot_h * (1 - max(v, 0) / v_max):.1f}"
        for t, v in points
    )
    colour = COLOURS[summary["levels_off"]]
    label = name if len(name) <= 34 else name[:33] + "…"
    return [
        f'<text x="{x0}" y="{y0 + 12}" font-size="10" fill="{INK}">{escape(label)}</text>',
        f'<rect x="{x0}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        f'stroke="#d5d8dc"/>',
        f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.5"/>',
        f'<text x="{x0}" y="{top + plot_h + 12}" font-size="9" fill="{MUTED}">'
        f"max {escape(_fmt(summary['max']))}, {t_end / 60:.0f} min</text>",
    ]
