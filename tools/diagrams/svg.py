"""A small SVG writer for the docs' diagrams: boxes, clusters, arrows with labels, a legend.

Why not Mermaid: Material for MkDocs draws Mermaid in the browser with a script it loads from a
CDN, and the docs must render with no network. These diagrams are written as SVG by Python at
generation time instead: nothing to download, nothing to run in the browser, the same bytes on
every machine (so a test can say a committed diagram is stale), and GitHub shows the files too.

Everything is drawn with presentation attributes, no <style>: an SVG inlined in a page must not
restyle the page, and ids are prefixed with the drawing's name for the same reason.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

FONT = "Helvetica, Arial, sans-serif"
FONT_SIZE = 13
# Average advance of a character of FONT at FONT_SIZE: boxes are sized from it.
CHAR_WIDTH = 7.3
LINE_HEIGHT = 17
INK = "#1f2d3d"
MUTED = "#566573"


@dataclass(frozen=True)
class Style:
    fill: str = "#eaf2fb"
    stroke: str = "#2e6da4"
    text: str = INK
    rounded: float = 6.0
    dashed: bool = False
    bold_first: bool = True


PLAIN = Style()
STORE = Style(fill="#f4ecf7", stroke="#7d3c98")


def _n(value: float) -> str:
    """A coordinate as short, stable text."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def text_width(text: str, size: float = FONT_SIZE, *, bold: bool = False) -> float:
    """An estimate of the text's width: capitals and m/w are wide, punctuation narrow."""
    units = 0.0
    for ch in text:
        if ch.isupper() or ch in "mw_":
            units += 1.3
        elif ch in " .,:;'()|/·-ijlrtf":
            units += 0.6
        else:
            units += 1.0
    return units * CHAR_WIDTH * size / FONT_SIZE * (1.1 if bold else 1.0)


@dataclass(frozen=True)
class Box:
    key: str
    cx: float
    cy: float
    w: float
    h: float

    def edge_point(self, towards_x: float, towards_y: float) -> tuple[float, float]:
        """Where the line from the centre towards a point leaves the box."""
        dx, dy = towards_x - self.cx, towards_y - self.cy
        if dx == 0 and dy == 0:
            return self.cx, self.cy
        tx = (self.w / 2) / abs(dx) if dx else math.inf
        ty = (self.h / 2) / abs(dy) if dy else math.inf
        t = min(tx, ty)
        return self.cx + dx * t, self.cy + dy * t


@dataclass
class Drawing:
    """One SVG drawing; `render()` gives its text, the same for the same calls."""

    name: str
    title: str
    width: float
    height: float
    _body: list[str] = field(default_factory=list)
    _boxes: dict[str, Box] = field(default_factory=dict)
    _labels: list[str] = field(default_factory=list)

    def box_size(
        self, lines: list[str], *, min_width: float = 0.0, bold_first: bool = True
    ) -> tuple[float, float]:
        width = (
            max(text_width(line, bold=bold_first and i == 0) for i, line in enumerate(lines)) + 24
        )
        return max(width, min_width), len(lines) * LINE_HEIGHT + 14

    def box(
        self,
        key: str,
        cx: float,
        cy: float,
        lines: list[str],
        *,
        style: Style = PLAIN,
        min_width: float = 0.0,
        width: float | None = None,
    ) -> Box:
        w, h = self.box_size(lines, min_width=min_width, bold_first=style.bold_first)
        if width is not None:
            w = width
        box = Box(key, cx, cy, w, h)
        self._boxes[key] = box
        dash = ' stroke-dasharray="5 3"' if style.dashed else ""
        self._body.append(
            f'<g class="node" data-key="{escape(key)}">'
            f'<rect x="{_n(cx - w / 2)}" y="{_n(cy - h / 2)}" width="{_n(w)}" height="{_n(h)}"'
            f' rx="{_n(min(style.rounded, h / 2))}" fill="{style.fill}" stroke="{style.stroke}"'
            f' stroke-width="1.5"{dash}/>'
        )
        top = cy - (len(lines) - 1) * LINE_HEIGHT / 2
        for i, line in enumerate(lines):
            weight = ' font-weight="bold"' if i == 0 and style.bold_first else ""
            size = FONT_SIZE if i == 0 else FONT_SIZE - 1
            self._body.append(
                f'<text x="{_n(cx)}" y="{_n(top + i * LINE_HEIGHT)}" text-anchor="middle"'
                f' dominant-baseline="central" font-size="{size}" fill="{style.text}"{weight}>'
                f"{escape(line)}</text>"
            )
        self._body.append("</g>")
        return box

    def circle(self, key: str, cx: float, cy: float, r: float = 9.0) -> Box:
        box = Box(key, cx, cy, 2 * r, 2 * r)
        self._boxes[key] = box
        self._body.append(f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(r)}" fill="{INK}"/>')
        return box

    def cluster(
        self,
        key: str,
        x: float,
        y: float,
        w: float,
        h: float,
        label: str,
        *,
        fill: str = "#f8f9f9",
        stroke: str = "#aab7b8",
    ) -> Box:
        """A labelled frame drawn behind what is drawn after it; arrows may point at it."""
        box = Box(key, x + w / 2, y + h / 2, w, h)
        self._boxes[key] = box
        self._body.append(
            f'<g class="cluster" data-key="{escape(key)}">'
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="8"'
            f' fill="{fill}" stroke="{stroke}" stroke-width="1.2"/>'
            f'<text x="{_n(x + 10)}" y="{_n(y + 16)}" font-size="{FONT_SIZE - 1}"'
            f' font-weight="bold" fill="{MUTED}">{escape(label)}</text></g>'
        )
        return box

    def arrow(
        self,
        source: str,
        target: str,
        *,
        dashed: bool = False,
        label: str | None = None,
        via: tuple[tuple[float, float], ...] = (),
        colour: str = INK,
        label_at: float = 0.5,
    ) -> None:
        """A line from one box's edge to another's, through `via`, with an arrowhead."""
        a, b = self._boxes[source], self._boxes[target]
        first = via[0] if via else (b.cx, b.cy)
        last = via[-1] if via else (a.cx, a.cy)
        points = [a.edge_point(*first), *via, b.edge_point(*last)]
        path = " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        marker = f"{self.name}-head-{'dim' if colour != INK else 'ink'}"
        self._body.append(
            f'<polyline class="edge" points="{path}" fill="none" stroke="{colour}"'
            f' stroke-width="1.4"{dash} marker-end="url(#{marker})"/>'
        )
        if label:
            # The label sits on the longest segment, `label_at` of the way along it.
            segments = list(itertools.pairwise(points))
            (x1, y1), (x2, y2) = max(segments, key=lambda s: math.dist(*s))
            lx, ly = x1 + (x2 - x1) * label_at, y1 + (y2 - y1) * label_at
            # Beside a straight line, not on it, so the line and its head stay whole.
            if abs(y2 - y1) * 3 < abs(x2 - x1):
                ly -= 11
            elif abs(x2 - x1) * 3 < abs(y2 - y1):
                half = (text_width(label, FONT_SIZE - 2) + 8) / 2 + 4
                # Right of the line, unless that runs off the drawing.
                lx += half if lx + 2 * half < self.width else -half
            self.label(lx, ly, label, colour=colour)

    def label(self, x: float, y: float, text: str, *, colour: str = MUTED) -> None:
        """Text on a white patch, drawn above every line and box."""
        size = FONT_SIZE - 2
        w = text_width(text, size) + 8
        self._labels.append(
            f'<rect x="{_n(x - w / 2)}" y="{_n(y - 8)}" width="{_n(w)}" height="16"'
            f' fill="#ffffff" opacity="0.9"/>'
            f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="middle" dominant-baseline="central"'
            f' font-size="{size}" font-style="italic" fill="{colour}">{escape(text)}</text>'
        )

    def note(self, x: float, y: float, text: str, *, anchor: str = "start") -> None:
        self._body.append(
            f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" dominant-baseline="central"'
            f' font-size="{FONT_SIZE - 1}" fill="{MUTED}">{escape(text)}</text>'
        )

    def legend_line(self, x: float, y: float, text: str, *, dashed: bool = False) -> None:
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        self._body.append(
            f'<line x1="{_n(x)}" y1="{_n(y)}" x2="{_n(x + 36)}" y2="{_n(y)}" stroke="{INK}"'
            f' stroke-width="1.4"{dash} marker-end="url(#{self.name}-head-ink)"/>'
        )
        self.note(x + 46, y, text)

    def render(self, *, source: str) -> str:
        """The SVG text; `source` says in a comment what generated it."""

        def head(kind: str, colour: str) -> str:
            return (
                f'<marker id="{self.name}-head-{kind}" viewBox="0 0 10 10" refX="9" refY="5"'
                f' markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
                f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
            )

        return "\n".join(
            [
                f'<svg xmlns="http://www.w3.org/2000/svg" class="diagram-svg"'
                f' viewBox="0 0 {_n(self.width)} {_n(self.height)}"'
                f' width="{_n(self.width)}" height="{_n(self.height)}" role="img"'
                f' aria-label="{escape(self.title)}" font-family="{FONT}">',
                f"<!-- Generated by `python -m tools.diagrams` from {escape(source)}."
                " Edit the code, then regenerate: never this file. -->",
                f"<title>{escape(self.title)}</title>",
                f"<defs>{head('ink', INK)}{head('dim', MUTED)}</defs>",
                f'<rect width="{_n(self.width)}" height="{_n(self.height)}" fill="#ffffff"/>',
                *self._body,
                *self._labels,
                "</svg>",
                "",
            ]
        )
