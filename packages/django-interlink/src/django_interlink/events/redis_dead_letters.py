"""A group's Redis dead letters: the stream `<prefix>:dead:<group>`, one entry a dead letter.

An entry holds the original `envelope` bytes, `stream` and `entry_id` (where it failed), `reason`,
`deliveries`, `history` (JSON: the failures this consumer saw, oldest first; a consumer that
restarted in between knows only its own) and `replays`. Its entry id is the dead letter's id and
says when it was dead-lettered. XRANGE reads without removing. A replay XADDs the envelope to
its original stream with `replays` one higher and XDELs the dead entry in one MULTI: both or
neither, so it leaves the dead letters exactly when Redis has the copy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import redis.exceptions as rx

from .dead_letters import DeadLetter, DeadLetterBox, bounded, event_fields, parse_time
from .redis_base import text


def dead_fields(
    *,
    group: str,
    stream: str,
    entry_id: str,
    fields: dict[Any, Any],
    reason: str,
    delivery: int,
    history: list[dict[str, Any]],
) -> dict[str, Any]:
    """The dead stream entry of an entry of `stream` that failed for good."""
    body = _field(fields, "envelope")
    return {
        "envelope": body or b"",
        "reason": reason[:1000],
        "stream": stream,
        "entry_id": entry_id,
        "deliveries": delivery,
        "group": group,
        "event_id": text(_field(fields, "event_id") or b""),
        "correlation_id": text(_field(fields, "correlation_id") or b""),
        "replays": int(text(_field(fields, "replays") or b"0") or 0),
        "history": json.dumps(bounded(history)),
    }


class RedisDeadLetters(DeadLetterBox):
    def __init__(self, client: Any, dead_stream: str, group: str) -> None:
        super().__init__(group)
        self.client = client
        self.stream = dead_stream

    def read(self, *, limit: int = 10_000) -> list[DeadLetter]:
        entries = self.client.xrange(self.stream, count=limit)
        return [self._letter(text(entry_id), fields) for entry_id, fields in entries]

    def get(self, letter_id: str) -> DeadLetter | None:
        try:
            entries = self.client.xrange(self.stream, min=letter_id, max=letter_id, count=1)
        except rx.ResponseError:  # not a stream id at all
            return None
        return self._letter(text(entries[0][0]), entries[0][1]) if entries else None

    def replay(self, ids: Sequence[str]) -> list[str]:
        done = []
        for letter_id in ids:
            letter = self.get(letter_id)
            origin = letter and letter.headers.get("stream")
            if letter is None or not origin or not letter.body:
                continue  # nothing to send back to
            copy = {
                "envelope": letter.body,
                "event_id": letter.headers.get("event_id") or letter.event_id,
                "correlation_id": letter.headers.get("correlation_id", ""),
                "replays": letter.replays + 1,
            }
            pipe = self.client.pipeline(transaction=True)
            pipe.xadd(origin, copy)
            pipe.xdel(self.stream, letter_id)
            _, deleted = pipe.execute()
            if deleted:
                done.append(letter_id)
        return done

    def discard(self, ids: Sequence[str]) -> list[str]:
        done = []
        for letter_id in ids:
            if self.get(letter_id) is not None and self.client.xdel(self.stream, letter_id):
                done.append(letter_id)
        return done

    def _letter(self, letter_id: str, raw: dict[Any, Any]) -> DeadLetter:
        body = _field(raw, "envelope") or b""
        fields = {text(k): text(v) for k, v in raw.items() if text(k) != "envelope"}
        try:
            history = json.loads(fields.get("history") or "[]")
        except ValueError:
            history = []
        dead_at = datetime.fromtimestamp(int(letter_id.split("-")[0]) / 1000, tz=UTC)
        event_id, event_type = event_fields(body)
        stream = fields.get("stream", "")
        return DeadLetter(
            id=letter_id,
            group=fields.get("group") or self.group,
            event_id=event_id or fields.get("event_id", ""),
            event_type=event_type or stream.rsplit(":", 1)[-1],
            reason=fields.get("reason", ""),
            attempts=int(fields.get("deliveries") or 1),
            first_failure=parse_time(history[0]["at"]) if history else dead_at,
            last_failure=dead_at,
            replays=int(fields.get("replays") or 0),
            body=body if isinstance(body, bytes) else str(body).encode(),
            headers=fields,
            history=history,
        )


def _field(fields: dict[Any, Any], name: str) -> Any:
    return fields.get(name.encode(), fields.get(name))
