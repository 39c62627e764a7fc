"""Where everything of a scene's sequence diagram goes, sized to its text so nothing clips.

Each lane (the room between two lifelines) is as wide as the widest label of an arrow that
spans it needs; the time column as wide as its longest time; the drawing as wide as its widest
line, its notes and its band labels. Each arrow's row is tall enough for its lines (label, ids,
and the replay note when the call was a replay). Each row belongs to a band: the saga step's
attempt it happened in, or the scene's own set-up and checks (drawn greyed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import LIFELINES, EventInteraction, HttpInteraction, SceneRecording, Span
from .replays import KeyedCall, replay_note, replay_of
from .textwidth import text_width

# Font sizes (px) of the arrow's label, its ids and replay lines, the time, the lifeline names,
# the notes and the band labels.
LABEL, IDS, TIME, NAME, NOTE, BAND, BAND_DETAIL = 11.0, 9.5, 10.0, 12.0, 11.0, 10.0, 9.5
HEAD = 44  # the lifelines' name boxes
BOX_H = 26
MIN_BOX = 90
PAD = 6  # from an arrow's left end to its text
ARROW_ROOM = 14  # past the text, before the lifeline the arrow ends on
MARGIN = 10
ROW = 40  # an arrow: its label above, its ids below
LINE = 13  # one more line below the ids (the replay note)
NOTE_ROW = 32
EMPTY = "no service call and no event in this scene"
# An id in a path is cut to its first 8 digits in the label (the title has it whole).
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
OUTSIDE = Span(
    kind="aside", label="the scene's own calls", detail="set-up, checks", start_ms=0, end_ms=0
)


@dataclass(frozen=True)
class Row:
    """One interaction: where its arrow (or its note) is drawn and what it says."""

    index: int  # in recording["interactions"]
    top: float
    height: float
    lines: tuple[str, ...]  # label, ids, replay note; a note's text
    title: str  # the full text, shown on hover
    span: Span | None  # the band it is drawn in (None: no band, as a note)

    @property
    def y(self) -> float:
        """The arrow's y; a note's centre."""
        return self.top + (self.height / 2 if len(self.lines) == 1 else 20)


@dataclass(frozen=True)
class Band:
    span: Span
    top: float
    bottom: float


@dataclass(frozen=True)
class Layout:
    names: list[str]
    x: dict[str, float]
    box_w: dict[str, float]
    gutter: float
    band_x: float  # where the band labels' column starts (the width when there is none)
    width: float
    height: float
    rows: list[Row]
    bands: list[Band]


def short(value: str | None, length: int = 8) -> str:
    if not value:
        return "—"
    return value if len(value) <= length else value[:length] + "…"


def duration(ms: float | None) -> str:
    return "—" if ms is None else f"{ms:.1f} ms"


def http_text(item: HttpInteraction, replay: str | None) -> tuple[tuple[str, ...], str]:
    """(label, ids and replay lines; the full title) of one request."""
    status = item["status"]
    answer = "no answer" if status is None else str(status)
    path = UUID.sub(lambda m: m.group(0)[:8] + "…", item["path"])
    label = f"{item['method']} {path}  → {answer} · {duration(item['duration_ms'])}"
    ids = f"req {short(item['request_id'])}"
    if item["idempotency_key"]:
        # In full: the replay and its original are told apart by it.
        ids += f" · Idempotency-Key {item['idempotency_key']}"
    title = (
        f"{item['method']} {item['path']} to {item['target']}: {answer} in "
        f"{duration(item['duration_ms'])}; X-Request-ID {item['request_id']}; "
        f"Idempotency-Key {item['idempotency_key'] or 'none'}"
    )
    if replay:
        return (label, ids, replay), f"{title}; {replay}"
    return (label, ids), title


def event_text(item: EventInteraction) -> tuple[tuple[str, ...], str]:
    action = item["action"].replace("_", "-")
    ids = f"event {short(item['event_id'])}"
    if item["detail"]:
        ids += f" · {short(item['detail'], 100)}"
    title = f"{action} {item['event_type']} event {item['event_id'] or '(not an envelope)'}"
    if item["detail"]:
        title += f": {item['detail']}"
    return (f"{action} {item['event_type']}", ids), title


def lifelines(recording: SceneRecording) -> list[str]:
    used = {"django"}
    for item in recording["interactions"]:
        if item["kind"] != "note":
            used.update((item["source"], item["target"]))
    return [name for name in LIFELINES if name in used] + sorted(used - set(LIFELINES))


def replays(recording: SceneRecording) -> dict[int, str]:
    """The replay note of each interaction that was one, by its index."""
    http = [(i, item) for i, item in enumerate(recording["interactions"]) if item["kind"] == "http"]
    keyed = [KeyedCall(h["target"], h["idempotency_key"], h["replayed"]) for _, h in http]
    return {
        http[n][0]: replay_note(http[original][1]["t_ms"])
        for n, original in enumerate(replay_of(keyed))
        if original is not None
    }


def span_of(recording: SceneRecording, index: int) -> Span | None:
    """The band of an interaction: the latest-started step attempt it falls in, else the
    scene's set-up or checks it falls in; in a saga scene, a call outside every step is the
    scene's own. A note has none. A step's events are put in the outbox in the transaction
    that closes its attempt (and opens the next): an enqueued event belongs to the attempt
    that ended last before it."""
    item = recording["interactions"][index]
    if item["kind"] == "note":
        return None
    t = item["t_ms"]
    spans = recording["spans"]
    if item["kind"] == "event" and item["action"] == "enqueued":
        ended = [s for s in spans if s["kind"] != "aside" and s["end_ms"] <= t]
        if ended:
            return max(ended, key=lambda s: s["end_ms"])
    for kinds in ({"action", "compensation"}, {"aside"}):
        inside = [s for s in spans if s["kind"] in kinds and s["start_ms"] <= t <= s["end_ms"]]
        if inside:
            return max(inside, key=lambda s: s["start_ms"])
    if item["kind"] == "http" and any(s["kind"] != "aside" for s in spans):
        return OUTSIDE
    return None


def _lanes(names: list[str], rows: list[Row], recording: SceneRecording) -> list[float]:
    """The room between each two neighbouring lifelines: their boxes', then each arrow's text
    spread over the lanes it crosses, the shortest arrows first."""
    box = [max(MIN_BOX, text_width(n, NAME, bold=True) + 20) for n in names]
    gaps = [(box[i] + box[i + 1]) / 2 + 24 for i in range(len(names) - 1)]
    position = {name: i for i, name in enumerate(names)}
    needs = []
    for row in rows:
        item = recording["interactions"][row.index]
        if item["kind"] == "note":
            continue
        lo, hi = sorted((position[item["source"]], position[item["target"]]))
        if lo == hi:
            continue
        need = max(_line_width(row, n) for n in range(len(row.lines))) + PAD + ARROW_ROOM
        needs.append((hi - lo, row.index, lo, hi, need))
    for _, _, lo, hi, need in sorted(needs):
        deficit = need - sum(gaps[lo:hi])
        if deficit > 0:
            for i in range(lo, hi):
                gaps[i] += deficit / (hi - lo)
    return gaps


def _line_width(row: Row, n: int) -> float:
    return text_width(row.lines[n], LABEL if n == 0 else IDS)


def layout(recording: SceneRecording) -> Layout:
    """Positions and sizes for `sequence.render_sequence_svg`."""
    names = lifelines(recording)
    marked = replays(recording)
    rows: list[Row] = []
    top = float(HEAD + 4)
    for index, item in enumerate(recording["interactions"]):
        lines: tuple[str, ...]
        if item["kind"] == "note":
            lines, title, height = (item["text"],), item["text"], float(NOTE_ROW)
        else:
            if item["kind"] == "http":
                lines, title = http_text(item, marked.get(index))
            else:
                lines, title = event_text(item)
            height = float(ROW + LINE * (len(lines) - 2))
        rows.append(Row(index, top, height, lines, title, span_of(recording, index)))
        top += height
    times = [f"+{item['t_ms']:.0f} ms" for item in recording["interactions"]]
    gutter = max([44.0] + [text_width(t, TIME) + 10 for t in times])
    gaps = _lanes(names, rows, recording)
    box_w = {n: max(MIN_BOX, text_width(n, NAME, bold=True) + 20) for n in names}
    x = {names[0]: gutter + box_w[names[0]] / 2}
    for i, gap in enumerate(gaps):
        x[names[i + 1]] = x[names[i]] + gap
    right = x[names[-1]] + box_w[names[-1]] / 2 + MARGIN
    for row in rows:
        item = recording["interactions"][row.index]
        if item["kind"] == "note":
            right = max(right, gutter + 18 + text_width(row.lines[0], NOTE) + 18)
            continue
        left = min(x[item["source"]], x[item["target"]]) + PAD
        widest = max(_line_width(row, n) for n in range(len(row.lines)))
        right = max(right, left + widest + MARGIN)
    if not rows:
        right = max(right, gutter + text_width(EMPTY, 12) + MARGIN)
    bands = _bands(rows)
    band_w = max(
        [0.0]
        + [
            max(text_width(b.span["label"], BAND, bold=True), text_width(b.span["detail"], IDS))
            + 2 * MARGIN
            for b in bands
        ]
    )
    return Layout(
        names=names,
        x=x,
        box_w=box_w,
        gutter=gutter,
        band_x=right,
        width=right + band_w,
        height=(top if rows else HEAD + 40.0) + 16,
        rows=rows,
        bands=bands,
    )


def _same_band(a: Span, b: Span) -> bool:
    """One step attempt; or set-up next to set-up (a scene may make it in several pieces)."""
    return a is b or (a["kind"] == b["kind"] == "aside" and a["label"] == b["label"])


def _bands(rows: list[Row]) -> list[Band]:
    """Neighbouring rows in the same span, as one band each."""
    bands: list[Band] = []
    for row in rows:
        if row.span is None:
            continue
        last = bands[-1] if bands else None
        if last is not None and _same_band(last.span, row.span) and last.bottom == row.top:
            bands[-1] = Band(row.span, last.top, row.top + row.height)
        else:
            bands.append(Band(row.span, row.top, row.top + row.height))
    return bands
