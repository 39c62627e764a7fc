"""A scene's exported spans (the dicts `ReadableSpan.to_json()` writes) turned into what the
report draws: the waterfall's bars (`trace_spans`) and the sequence diagram's arrows
(`span_interactions`): a client span is a call from a Django process to the service it
addressed, a publish span an event the relay handed to the bus, a process span an event a
consumer took from it.

Plain Python over plain dicts, so the same functions read the demo's in-memory spans and the
JSON lines the real stack's processes wrote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

from .model import EventAction, EventInteraction, HttpInteraction, TraceKind, TraceSpan

SpanDict = Mapping[str, Any]
#: The lifeline of every Django process (the demo, the relay, the consumer, the workers).
DJANGO = "django"
# The attributes databases' and caches' client spans carry: not calls between the parties.
STORAGE = ("db.system", "db.system.name")
# FastAPI's own spans inside a stub's request (dependencies, endpoint, serialization).
FRAMEWORK = "fastapi."


# The stubs' control plane (faults, request logs): the scene's set-up, not a service call.
CONTROL = "/__control/"


@dataclass(frozen=True)
class StubAnswer:
    """What a stub recorded of one request a client span sent (spans do not say it): one per
    attempt, as the client's retries happen under the one span."""

    t_ms: float  # when the stub received it, since the scene started
    status: int | None
    request_id: str
    idempotency_key: str | None
    replayed: bool
    duration_ms: float | None


def _ms(stamp: str, started: float) -> float:
    return round((datetime.fromisoformat(stamp).timestamp() - started) * 1000, 1)


def _kind(span: SpanDict) -> TraceKind:
    return cast(TraceKind, str(span["kind"]).rsplit(".", 1)[-1].lower())


def _attr(span: SpanDict, *names: str) -> Any:
    attributes = span.get("attributes") or {}
    for name in names:
        if name in attributes:
            return attributes[name]
    return None


def _id(value: str | None) -> str | None:
    return None if value is None else value.removeprefix("0x")


def is_drawn(span: SpanDict) -> bool:
    """A span the pictures show: not a database's or a cache's client span, nor the web
    framework's steps inside a stub's request."""
    if str(span["name"]).startswith(FRAMEWORK) or CONTROL in str(span["name"]):
        return False
    if _kind(span) != "client":
        return True
    return _attr(span, *STORAGE) is None and CONTROL not in _request(span)[1]


def _request(span: SpanDict) -> tuple[str, str, int | None]:
    """A client span's method, URL and answered status (both semantic-convention spellings)."""
    method = str(_attr(span, "http.request.method", "http.method") or "?")
    url = str(_attr(span, "url.full", "http.url") or "")
    status = _attr(span, "http.response.status_code", "http.status_code")
    return method, url, None if status is None else int(status)


def _peer(url: str, peers: Mapping[str, str]) -> str:
    netloc = urlsplit(url).netloc
    return peers.get(netloc, netloc or "?")


def _label(span: SpanDict, peers: Mapping[str, str]) -> tuple[str, str]:
    """The bar's name and detail."""
    kind = _kind(span)
    if kind == "client" and _attr(span, "http.request.method", "http.method"):
        method, url, status = _request(span)
        answer = "no answer" if status is None else str(status)
        return f"{method} {_peer(url, peers)} {urlsplit(url).path}", answer
    if kind in ("producer", "consumer"):
        event_id = str(_attr(span, "messaging.message.id") or "")
        handlers = _attr(span, "django_interlink.handlers") or []
        outcome = _attr(span, "django_interlink.outcome") or ""
        extra = ", ".join(handlers) if kind == "consumer" else outcome
        return str(span["name"]), " · ".join(part for part in (event_id[:8], extra) if part)
    if _attr(span, "django_interlink.saga.resumed"):
        return str(span["name"]), "resumed: took over an interrupted run"
    attempt = _attr(span, "django_interlink.saga.attempt")
    return str(span["name"]), "" if attempt is None else f"attempt {attempt}"


def trace_spans(
    spans: Sequence[SpanDict], *, started: float, peers: Mapping[str, str]
) -> list[TraceSpan]:
    """The waterfall's bars: the drawn spans in start order, times since `started` (epoch
    seconds), each parent kept only if it is in the trace."""
    drawn = sorted(
        (span for span in spans if is_drawn(span)), key=lambda s: (s["start_time"], s["name"])
    )
    ids = {_id(span["context"]["span_id"]) for span in drawn}
    peer_of = {
        _id(span["context"]["span_id"]): _peer(_request(span)[1], peers)
        for span in drawn
        if _kind(span) == "client"
    }
    bars: list[TraceSpan] = []
    for span in drawn:
        parent = _id(span.get("parent_id"))
        name, detail = _label(span, peers)
        if _kind(span) == "server" and parent in peer_of:
            name = f"{peer_of[parent]} handles {name}"  # a stub, answering its client span
        bars.append(
            TraceSpan(
                span_id=str(_id(span["context"]["span_id"])),
                parent_id=parent if parent in ids else None,
                name=name,
                kind=_kind(span),
                service=str(span.get("resource", {}).get("attributes", {}).get("service.name")),
                start_ms=_ms(span["start_time"], started),
                end_ms=_ms(span["end_time"], started),
                error=(span.get("status") or {}).get("status_code") == "ERROR",
                detail=detail,
            )
        )
    return bars


def span_interactions(
    spans: Sequence[SpanDict],
    *,
    started: float,
    peers: Mapping[str, str],
    answers: Mapping[str, Sequence[StubAnswer]],
    request_id: str,
) -> list[HttpInteraction | EventInteraction]:
    """The sequence diagram's calls and events drawn from the trace. `peers` names the
    services by host:port; `answers` are the stubs' records by the client span's id (the
    parent in the `traceparent` the request carried): a call is drawn once per attempt the stub
    received, or once from its span alone when no stub did (no answer); `request_id` is the
    scene's, for such a call. A message consumed again (a redelivery) is drawn once: the stack notes
    the skip."""
    found: list[HttpInteraction | EventInteraction] = []
    consumed: set[tuple[str, str]] = set()
    for span in sorted(spans, key=lambda s: s["start_time"]):
        kind, t_ms = _kind(span), _ms(span["start_time"], started)
        if kind == "client" and is_drawn(span):
            method, url, status = _request(span)
            target, path = _peer(url, peers), urlsplit(url).path
            attempts = answers.get(str(_id(span["context"]["span_id"]))) or [
                StubAnswer(t_ms, status, request_id, None, False, None)
            ]
            found.extend(
                HttpInteraction(
                    kind="http",
                    t_ms=answer.t_ms,
                    source=DJANGO,
                    target=target,
                    method=method,
                    path=path,
                    status=answer.status,
                    duration_ms=answer.duration_ms,
                    request_id=answer.request_id,
                    idempotency_key=answer.idempotency_key,
                    replayed=answer.replayed,
                )
                for answer in attempts
            )
        elif kind in ("producer", "consumer"):
            event_type = str(_attr(span, "messaging.destination.name") or span["name"])
            event_id = str(_attr(span, "messaging.message.id") or "")
            if kind == "producer":
                if _attr(span, "django_interlink.outcome") != "confirmed":
                    continue  # refused: the row stays pending, a later relay sends it
                source, target, detail = "outbox", "bus", ""
                action: EventAction = "relayed"
            else:
                handlers = ", ".join(_attr(span, "django_interlink.handlers") or [])
                if (event_id, handlers) in consumed:
                    continue
                consumed.add((event_id, handlers))
                source, target, detail, action = "bus", "inbox", handlers, "consumed"
            found.append(
                EventInteraction(
                    kind="event",
                    t_ms=t_ms,
                    source=source,
                    target=target,
                    action=action,
                    event_type=event_type,
                    event_id=event_id or None,
                    detail=detail,
                )
            )
    return found
