"""Harness machinery that records each scene for the report: the HTTP requests as the stubs
received and answered them, the calls as the clients logged them, the outbox and inbox rows the
scene touched, the events a stack noted (skipped, dead-lettered, raw bytes), the checks, and
the sagas whose steps ran (their timelines, drawn as the admin draws them).

The stubs' request logs are the ground truth for the arrows: they see every request, whichever
process sent it (on the real stack a saga worker or the consumer makes some of them).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q
from django.utils.text import slugify

from microservices.models import InboxEvent, OutboxEvent, SagaExecution, SagaStepLog
from microservices.sagas.timeline import timeline_svg
from mock_services.testing import StubServer
from project.demo.report.model import (
    RECORDING_VERSION,
    Call,
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


class ClientCallLog(logging.Handler):
    """Keeps the clients' `call` and `retry` records of the scene being recorded."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.calls: list[Call] = []
        self._retries: dict[tuple[str, str, str], list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        fields = record.__dict__
        key = (
            str(fields.get("service")),
            str(fields.get("operation")),
            str(fields.get("request_id")),
        )
        if fields.get("event") == "retry":
            wait = fields.get("wait_s") or 0.0
            self._retries.setdefault(key, []).append(f"{fields.get('cause')}, waited {wait:.3f}s")
        elif fields.get("event") == "call":
            error = fields.get("error")
            self.calls.append(
                Call(
                    service=key[0],
                    operation=key[1],
                    method=str(fields.get("method")),
                    path=str(fields.get("path")),
                    status=fields.get("status"),
                    attempts=int(fields.get("attempts") or 1),
                    duration_ms=round(float(fields.get("duration_ms") or 0.0), 1),
                    request_id=key[2],
                    error=type(error).__name__ if error is not None else None,
                    retries=self._retries.pop(key, []),
                )
            )

    def take(self) -> list[Call]:
        calls, self.calls, self._retries = self.calls, [], {}
        return calls


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

    def end(self, *, error: str | None, lines: list[str]) -> SceneRecording:
        scene = self._current()
        finished = time.time()
        interactions: list[Interaction] = [
            *self._requests(scene, finished),
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
        )
        self.scenes.append(recording)
        self._scene = None
        return recording

    def _requests(self, scene: _Scene, finished: float) -> list[HttpInteraction]:
        found: list[HttpInteraction] = []
        for name, stub in self.stubs.items():
            for item in stub.app.state.runtime.requests.items():
                if scene.started <= item.received_at <= finished:
                    found.append(
                        HttpInteraction(
                            kind="http",
                            t_ms=self._since(scene, item.received_at),
                            source="django",
                            target=name,
                            method=item.method,
                            path=item.path,
                            status=item.status,
                            duration_ms=(
                                None if item.duration_ms is None else round(item.duration_ms, 1)
                            ),
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

        # Relays are noted by the stack as they happen (a row's sent_at keeps only the last).
        for row in OutboxEvent.objects.filter(created_at__gte=since).order_by("id"):
            add("enqueued", row.created_at, "django", "outbox", **_event_fields(row))
        for inbox in InboxEvent.objects.filter(processed_at__gte=since).order_by("id"):
            add(
                "consumed",
                inbox.processed_at,
                "bus",
                "inbox",
                event_type=inbox.event_type,
                event_id=inbox.event_id,
                detail=inbox.handler,
            )
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
