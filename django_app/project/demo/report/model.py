"""What the demo records of one scene, as plain JSON-ready dicts (a recording is a JSON file).

`interactions` are the arrows of the sequence diagram, in the order they happened: the HTTP
requests as the clients' spans sent them (with what the stubs answered), the events as the
relay's publish spans and the consumers' process spans saw them (their enqueueing as the
outbox rows hold it), and notes on the processes (a worker killed, another resuming). `spans` say
which part of the scene a moment belongs to: a saga step's attempt (its calls drawn in the
step's band) or the scene's own set-up and checks (drawn greyed). `calls` are the
same calls as the Django clients of the demo's own process saw them (attempts, client-side
duration, the typed error). `trace` is the scene's trace, span by span, for its waterfall.
Nothing here is a secret: headers other than X-Request-ID and
Idempotency-Key are never recorded, bodies never.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict, cast

#: Bumped when a field changes meaning; a renderer refuses recordings of another version.
RECORDING_VERSION = 2

#: The sequence diagram's lifelines, left to right; a diagram draws only those it uses.
LIFELINES = (
    "django",
    "users",
    "orders",
    "payments",
    "inventory",
    "outbox",
    "bus",
    "inbox",
    "dead letters",
)

EventAction = Literal[
    "enqueued", "rolled_back", "relayed", "consumed", "skipped", "dead_lettered", "published_raw"
]


class HttpInteraction(TypedDict):
    kind: Literal["http"]
    t_ms: float  # since the scene started
    source: str
    target: str  # a service: users, orders, payments, inventory
    method: str
    path: str
    status: int | None  # None: the connection was closed without an answer
    duration_ms: float | None  # as the stub measured it
    request_id: str
    idempotency_key: str | None
    # The stub answered from its idempotency store (Idempotent-Replayed: true).
    replayed: bool


class EventInteraction(TypedDict):
    kind: Literal["event"]
    t_ms: float
    source: str
    target: str
    action: EventAction
    event_type: str
    event_id: str | None  # None: bytes that were not an envelope at all
    detail: str  # the handler, or why it was dead-lettered


class NoteInteraction(TypedDict):
    """What happened to a process rather than between two parties: a worker killed, resumed."""

    kind: Literal["note"]
    t_ms: float
    text: str


Interaction = HttpInteraction | EventInteraction | NoteInteraction


class Call(TypedDict):
    service: str
    operation: str
    method: str
    path: str
    status: int | None
    attempts: int
    duration_ms: float
    request_id: str
    error: str | None
    retries: list[str]


class Check(TypedDict):
    name: str
    passed: bool
    expected: str
    actual: str


SpanKind = Literal["action", "compensation", "aside"]


class Span(TypedDict):
    """A stretch of the scene: one attempt of a saga step, or the scene's own set-up or checks."""

    kind: SpanKind
    label: str  # the step's name, or "set-up", "check"
    detail: str  # "action #1 · worker A", or "" for an aside
    start_ms: float
    end_ms: float


TraceKind = Literal["server", "client", "producer", "consumer", "internal"]


class TraceSpan(TypedDict):
    """One span of the scene's trace, as the waterfall draws it (spans.py reads them from the
    exported spans): a bar from `start_ms` to `end_ms`, under its parent."""

    span_id: str
    parent_id: str | None  # None: the trace's root, or a parent not in the trace
    name: str
    kind: TraceKind
    service: str  # the exporting process's service.name
    start_ms: float  # since the scene started
    end_ms: float
    error: bool  # its status is ERROR
    detail: str  # what the bar's label adds: the peer and status, the event id, the step


class Figure(TypedDict):
    """A drawing the scene adds to its section (the saga's state diagram)."""

    title: str
    svg: str


class SagaTimeline(TypedDict):
    saga_id: str
    status: str
    svg: str  # django_interlink.sagas.timeline.timeline_svg, as the admin draws it


class SceneRecording(TypedDict):
    version: int
    number: int
    slug: str
    title: str
    summary: str
    stack: str
    request_id: str
    passed: bool
    error: str | None
    duration_ms: float
    interactions: list[Interaction]
    calls: list[Call]
    checks: list[Check]
    sagas: list[SagaTimeline]
    spans: list[Span]
    figures: list[Figure]
    lines: NotRequired[list[str]]
    # The scene's trace (its spans in start order) and its id; absent in recordings made
    # before the demo traced its scenes.
    trace_id: NotRequired[str]
    trace: NotRequired[list[TraceSpan]]


class RecordingError(ValueError):
    """A recording file that is not one this renderer understands."""


def load_recording(path: Path) -> SceneRecording:
    """Read a recording written by `python -m project.demo --record DIR`."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RecordingError(f"{path}: not a readable JSON recording: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != RECORDING_VERSION:
        found = data.get("version") if isinstance(data, dict) else type(data).__name__
        raise RecordingError(
            f"{path}: recording version {found!r}, this renderer reads {RECORDING_VERSION}"
        )
    return cast(SceneRecording, data)


def dump_recording(recording: SceneRecording) -> str:
    """The recording as stable JSON (sorted keys, two-space indent, a final newline)."""
    return json.dumps(recording, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
