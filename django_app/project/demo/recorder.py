"""Harness machinery that records each scene for the report from its trace (traces.py): the
service calls as the clients' spans made them, each with what the stub that answered recorded
(its request id, Idempotency-Key, whether it replayed), the relay's publishes and the
consumers' handling as their spans saw them, the trace itself for the waterfall. What spans do
not cover comes from where it always did: the outbox rows the scene enqueued, the events only
the stack saw (skipped, dead-lettered, raw bytes), the notes on the processes, the calls as the
clients logged them (attempts, the typed error), the checks, and the sagas whose steps ran
(their timelines and step attempts, from the step log, drawn as the admin draws them).

A request a stub received that no span of the scene's trace sent (no `traceparent`, or a
process that died before it exported its span) is drawn from the stub's log, as before spans.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.db.models import Q
from django.utils.text import slugify

from django_interlink.models import OutboxEvent, SagaExecution, SagaStepLog
from django_interlink.sagas.timeline import timeline_svg
from mock_services.testing import StubServer
from project.demo.call_log import ClientCallLog
from project.demo.report.model import (
    RECORDING_VERSION,
    Check,
    EventAction,
    EventInteraction,
    Figure,
    HttpInteraction,
    Interaction,
    NoteInteraction,
    SagaTimeline,
    SceneRecording,
    Span,
    SpanKind,
)
from project.demo.report.spans import StubAnswer, span_interactions, trace_spans
from project.demo.traces import SpanDict

REPR_CHARS = 300


def shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= REPR_CHARS else text[: REPR_CHARS - 1] + "…"


def event_id_of(body: bytes) -> str | None:
    """The event id in raw bytes, if they are a JSON object that has one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    found = data.get("event_id") if isinstance(data, dict) else None
    return str(found) if found else None


@dataclass
class _Scene:
    number: int
    title: str
    summary: str
    request_id: str
    started: float  # time.time()
    checks: list[Check] = field(default_factory=list)
    notes: list[EventInteraction | NoteInteraction] = field(default_factory=list)
    asides: list[Span] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


class Recorder:
    """One scene at a time: `begin`, then `check`/`note_event` while it runs, then `end`."""

    def __init__(self, stubs: Mapping[str, StubServer], *, stack: str) -> None:
        self.stubs = stubs
        self.stack = stack
        self.client_log = ClientCallLog()
        self.scenes: list[SceneRecording] = []
        self._scene: _Scene | None = None

    def begin(self, number: int, title: str, summary: str, request_id: str) -> None:
        self.client_log.take()
        self._scene = _Scene(number, title, summary, request_id, started=time.time())

    def _current(self) -> _Scene:
        if self._scene is None:
            raise RuntimeError("no scene is being recorded: call begin() first")
        return self._scene

    def check(self, name: str, *, passed: bool, expected: object, actual: object) -> None:
        self._current().checks.append(
            Check(name=name, passed=passed, expected=shown(expected), actual=shown(actual))
        )

    def note_event(
        self,
        action: EventAction,
        *,
        event_type: str,
        event_id: str | None,
        source: str = "bus",
        target: str = "inbox",
        detail: str = "",
    ) -> None:
        """An event only the stack saw (a skipped redelivery, a dead letter, raw bytes)."""
        scene = self._current()
        scene.notes.append(
            EventInteraction(
                kind="event",
                t_ms=self._since(scene, time.time()),
                source=source,
                target=target,
                action=action,
                event_type=event_type,
                event_id=event_id,
                detail=detail,
            )
        )

    def note(self, text: str) -> None:
        """Something that happened to a process (a worker killed, another resuming)."""
        scene = self._current()
        scene.notes.append(
            NoteInteraction(kind="note", t_ms=self._since(scene, time.time()), text=text)
        )

    @contextmanager
    def aside(self, label: str) -> Iterator[None]:
        """The calls made inside are the scene's set-up or checks, not its point: the report
        draws them greyed, in a band named `label`."""
        scene = self._current()
        start = self._since(scene, time.time())
        try:
            yield
        finally:
            end = self._since(scene, time.time())
            scene.asides.append(
                Span(kind="aside", label=label, detail="", start_ms=start, end_ms=end)
            )

    def figure(self, title: str, svg: str) -> None:
        """A drawing for the scene's section of the report (an SVG the caller made)."""
        self._current().figures.append(Figure(title=title, svg=svg))

    @staticmethod
    def _since(scene: _Scene, at: float) -> float:
        return round((at - scene.started) * 1000, 1)

    def end(
        self,
        *,
        error: str | None,
        lines: list[str],
        trace_id: str = "",
        spans: list[SpanDict] | None = None,
    ) -> SceneRecording:
        """Close the scene; `spans` are its trace's (`trace_id`), as exported so far."""
        scene = self._current()
        finished = time.time()
        spans = spans or []
        peers = {_netloc(stub.url): name for name, stub in self.stubs.items()}
        sent = {
            str(span["context"]["span_id"]).removeprefix("0x")
            for span in spans
            if str(span["kind"]).endswith("CLIENT")
        }
        interactions: list[Interaction] = [
            *span_interactions(
                spans,
                started=scene.started,
                peers=peers,
                answers=self._answers(scene, finished),
                request_id=scene.request_id,
            ),
            *self._unsent(scene, finished, trace_id, sent),
            *_own_events([*self._events(scene), *scene.notes]),
        ]
        interactions.sort(key=lambda item: item["t_ms"])
        logs = self._step_logs(scene)
        recording = SceneRecording(
            version=RECORDING_VERSION,
            number=scene.number,
            slug=f"{scene.number:02d}-{slugify(scene.title)}",
            title=scene.title,
            summary=scene.summary,
            stack=self.stack,
            request_id=scene.request_id,
            passed=error is None and all(c["passed"] for c in scene.checks),
            error=error,
            duration_ms=round((finished - scene.started) * 1000, 1),
            interactions=interactions,
            calls=self.client_log.take(),
            checks=scene.checks,
            sagas=self._sagas(logs),
            spans=[*_step_spans(logs, scene, finished), *scene.asides],
            figures=scene.figures,
            lines=lines,
            trace_id=trace_id,
            trace=trace_spans(spans, started=scene.started, peers=peers),
        )
        self.scenes.append(recording)
        self._scene = None
        return recording

    def _received(self, scene: _Scene, finished: float) -> Iterator[tuple[str, Any]]:
        for name, stub in self.stubs.items():
            for item in stub.app.state.runtime.requests.items():
                if scene.started <= item.received_at <= finished:
                    yield name, item

    def _answers(self, scene: _Scene, finished: float) -> dict[str, list[StubAnswer]]:
        """What the stubs recorded of the scene's requests, by the client span that sent each."""
        found: dict[str, list[StubAnswer]] = {}
        for _, item in self._received(scene, finished):
            if parent := _parent_of(item.traceparent):
                found.setdefault(parent, []).append(
                    StubAnswer(
                        t_ms=self._since(scene, item.received_at),
                        status=item.status,
                        request_id=item.request_id,
                        idempotency_key=item.idempotency_key,
                        replayed=item.replayed,
                        duration_ms=(
                            None if item.duration_ms is None else round(item.duration_ms, 1)
                        ),
                    )
                )
        for attempts in found.values():
            attempts.sort(key=lambda answer: answer.t_ms)
        return found

    def _unsent(
        self, scene: _Scene, finished: float, trace_id: str, sent: set[str]
    ) -> list[HttpInteraction]:
        """The scene's requests no exported span sent: drawn from the stubs' logs."""
        found: list[HttpInteraction] = []
        for name, item in self._received(scene, finished):
            parts = (item.traceparent or "").split("-")
            if len(parts) == 4 and (parts[1] != trace_id or parts[2] in sent):
                continue  # another trace's, or drawn from its client span
            found.append(
                HttpInteraction(
                    kind="http",
                    t_ms=self._since(scene, item.received_at),
                    source="django",
                    target=name,
                    method=item.method,
                    path=item.path,
                    status=item.status,
                    duration_ms=None if item.duration_ms is None else round(item.duration_ms, 1),
                    request_id=item.request_id,
                    idempotency_key=item.idempotency_key,
                    replayed=item.replayed,
                )
            )
        return found

    def _events(self, scene: _Scene) -> list[EventInteraction]:
        since = datetime.fromtimestamp(scene.started, tz=UTC)
        found: list[EventInteraction] = []

        def add(action: EventAction, at: datetime, source: str, target: str, **what: Any) -> None:
            found.append(
                EventInteraction(
                    kind="event",
                    t_ms=self._since(scene, at.timestamp()),
                    source=source,
                    target=target,
                    action=action,
                    event_type=str(what["event_type"]),
                    event_id=str(what["event_id"]),
                    detail=str(what.get("detail", "")),
                )
            )

        # Enqueueing has no span of its own; relays and handling come from the trace.
        for row in OutboxEvent.objects.filter(created_at__gte=since).order_by("id"):
            add("enqueued", row.created_at, "django", "outbox", **_event_fields(row))
        return found

    @staticmethod
    def _step_logs(scene: _Scene) -> list[SagaStepLog]:
        """The step attempts that ran (started or finished) while the scene did."""
        since = datetime.fromtimestamp(scene.started, tz=UTC)
        return list(
            SagaStepLog.objects.filter(Q(started_at__gte=since) | Q(finished_at__gte=since))
            .select_related("execution")
            .order_by("started_at", "id")
        )

    @staticmethod
    def _sagas(logs: list[SagaStepLog]) -> list[SagaTimeline]:
        ids = list(dict.fromkeys(log.execution_id for log in logs))
        executions = SagaExecution.objects.in_bulk(ids)
        timelines = []
        for pk in ids:
            execution = executions[pk]
            lease = execution.live_lease  # None once the saga has ended
            timelines.append(
                SagaTimeline(
                    saga_id=execution.saga_id,
                    status=str(execution.status),
                    svg=str(timeline_svg(list(execution.step_logs.all()), lease_expires_at=lease)),
                )
            )
        return timelines


def _step_spans(logs: list[SagaStepLog], scene: _Scene, finished: float) -> list[Span]:
    """One span per step attempt. An attempt with no end (its worker died) lasts until the
    next attempt of its saga starts. Workers are named A, B, ... when more than one ran."""
    workers = {w: chr(ord("A") + i) for i, w in enumerate(dict.fromkeys(g.worker for g in logs))}
    spans = []
    for n, log in enumerate(logs):
        end = log.finished_at
        if end is None:
            later = [g.started_at for g in logs[n + 1 :] if g.execution_id == log.execution_id]
            end = later[0] if later else datetime.fromtimestamp(finished, tz=UTC)
        kind: SpanKind = "action" if log.direction == "action" else "compensation"
        detail = f"{'action' if kind == 'action' else 'undo'} #{log.attempt}"
        if len(workers) > 1:
            detail += f" · worker {workers[log.worker]}"
        spans.append(
            Span(
                kind=kind,
                label=log.step_name,
                detail=detail,
                start_ms=Recorder._since(scene, log.started_at.timestamp()),
                end_ms=Recorder._since(scene, end.timestamp()),
            )
        )
    return spans


def _netloc(url: str) -> str:
    return urlsplit(url).netloc


def _parent_of(traceparent: str | None) -> str:
    """The span id a `traceparent` names (the client span that sent the request), or ""."""
    parts = (traceparent or "").split("-")
    return parts[2] if len(parts) == 4 else ""


def _own_events(
    events: list[EventInteraction | NoteInteraction],
) -> list[EventInteraction | NoteInteraction]:
    """The scene's own events: a relay, delivery or skip of an event an earlier scene put in
    the outbox is left out, and one note says how many were."""
    own = {
        e["event_id"]
        for e in events
        if e["kind"] == "event" and e["action"] in {"enqueued", "rolled_back", "published_raw"}
    }
    kept: list[EventInteraction | NoteInteraction] = []
    earlier: list[EventInteraction] = []
    for e in events:
        if e["kind"] == "event" and e["event_id"] is not None and e["event_id"] not in own:
            earlier.append(e)
        else:
            kept.append(e)
    if earlier:
        kinds = sorted({e["action"].replace("_", "-") for e in earlier})
        kept.append(
            NoteInteraction(
                kind="note",
                t_ms=earlier[0]["t_ms"],
                text=f"{len(earlier)} events of earlier scenes {' and '.join(kinds)} here"
                " (not drawn)",
            )
        )
    return kept


def _event_fields(row: OutboxEvent) -> dict[str, str]:
    return {"event_type": row.event_type, "event_id": str(row.event_id)}
