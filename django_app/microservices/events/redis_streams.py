"""Redis Streams bus: consumer groups, acknowledgements, retries and dead letters.

One stream per event type, `<prefix>:<event_type>`, entries `{envelope, event_id,
correlation_id}`; one consumer group per consuming service. A consumer reads new entries with
XREADGROUP, XACKs what its handlers settled, retries a failed entry after its backoff (XCLAIM to
itself), and reclaims entries left pending by a dead consumer with XAUTOCLAIM once idle for
REDIS_CLAIM_IDLE_MS. An entry failing MAX_DELIVERIES times, or that breaks the contract, goes
to `<prefix>:dead:<group>` with its reason (XADD + XACK in one MULTI).

With CONSUME_WINDOW = N > 1, a read takes up to N entries (XREADGROUP COUNT=N), decides them in
one database transaction (a savepoint each, consumer.py), and after the commit settles them in
one MULTI: one XACK of the ids, with the XADDs of the dead ones. A read returns what the stream
holds without waiting for more, so a quiet stream is acked at once (CONSUME_WINDOW_WAIT is
RabbitMQ's). A failing entry alone is retried or dead-lettered; a crash before the commit leaves
the whole window pending, reclaimed by XAUTOCLAIM, and the inbox makes the replay harmless.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import redis.exceptions as rx

from ..exceptions import BusUnavailable, EventContractViolation, PublishError
from .budget import ConsumeBudget
from .bus import reconnect_delay
from .consumer import Dispatcher, Outcome
from .contract import encode_event, get_contract, max_event_bytes
from .envelope import Envelope
from .handlers import HandlerRegistry
from .redis_base import RECONNECTABLE, RedisBus, text

logger = logging.getLogger("microservices.events.redis")

LEAVE_ERRORS: tuple[type[BaseException], ...] = (*RECONNECTABLE, rx.ResponseError)


class RedisStreamsBus(RedisBus):
    backend = "redis"
    # Entries per read. Small: on SIGTERM, what was read but not started stays pending.
    batch = 10

    def __init__(
        self,
        url: str,
        *,
        claim_idle_ms: int,
        block_ms: int,
        consume_window: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(url, **kwargs)
        self.claim_idle_ms = claim_idle_ms
        self.block_ms = block_ms
        self.consume_window = consume_window

    @classmethod
    def options(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **super().options(config),
            "claim_idle_ms": int(config["REDIS_CLAIM_IDLE_MS"]),
            "block_ms": int(config["REDIS_BLOCK_MS"]),
            "consume_window": int(config["CONSUME_WINDOW"]),
        }

    def stream(self, event_type: str) -> str:
        return self.channel(event_type)

    # -- publishing --------------------------------------------------------------------

    def publish(self, envelope: Envelope) -> None:
        body = encode_event(envelope)
        fields = {
            "envelope": body,
            "event_id": envelope.event_id,
            "correlation_id": envelope.correlation_id,
        }
        self.publish_raw(envelope.event_type, fields)

    def publish_results(
        self, envelopes: Sequence[Envelope]
    ) -> tuple[list[str | None], BusUnavailable | None]:
        """A batch's XADDs in one pipeline: one round trip for all of them (see EventBus).

        An event the contract refuses is not sent; Redis refusing one (e.g. OOM) refuses that
        one only. A connection lost during the round trip is retried as a whole (a duplicate
        entry is what at-least-once allows, and the inbox absorbs); if Redis stays away, no
        outcome after the first event sent is known, so those before it are returned.
        """
        outcomes: list[str | None] = [None] * len(envelopes)
        sent: list[tuple[int, str, dict[str, Any]]] = []
        contract, limit = get_contract(), max_event_bytes()
        for index, envelope in enumerate(envelopes):
            try:
                body = encode_event(envelope, contract=contract, limit=limit)
            except EventContractViolation as exc:
                outcomes[index] = str(exc)
                continue
            fields = {
                "envelope": body,
                "event_id": envelope.event_id,
                "correlation_id": envelope.correlation_id,
            }
            sent.append((index, self.stream(envelope.event_type), fields))
        if not sent:
            return outcomes, None

        def execute() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for _, stream, fields in sent:
                pipe.xadd(stream, fields)
            return list(pipe.execute(raise_on_error=False))

        try:
            replies = self._with_reconnect("XADD", execute)
        except BusUnavailable as exc:
            return outcomes[: sent[0][0]], exc
        for (index, stream, _), reply in zip(sent, replies, strict=True):
            if isinstance(reply, Exception):
                outcomes[index] = f"Redis refused the event on {stream}: {reply}"
        return outcomes, None

    def publish_raw(self, event_type: str, fields: dict[str, Any]) -> str:
        """XADD fields unchecked (poison tests); returns the entry id once Redis has it."""
        stream = self.stream(event_type)
        try:
            entry_id = self._with_reconnect("XADD", lambda: self.client.xadd(stream, fields))
        except rx.ResponseError as exc:  # e.g. OOM with maxmemory-policy noeviction
            raise PublishError(f"Redis refused the event on {stream}: {exc}") from exc
        return text(entry_id)

    # -- groups ------------------------------------------------------------------------

    def declare(self, event_types: Sequence[str], *, group: str | None = None) -> None:
        group = self._group(group)
        for event_type in event_types:
            try:
                # From the stream's start: what was published before the group existed is not
                # skipped (the same promise as a RabbitMQ queue declared before publishing).
                self.client.xgroup_create(self.stream(event_type), group, id="0", mkstream=True)
            except rx.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def dead_letters(self, group: str | None = None, *, limit: int = 1000) -> list[dict[str, Any]]:
        """The group's dead letters (oldest first), fields decoded except `envelope`."""
        entries = self.client.xrange(self.dead_stream(self._group(group)), count=limit)
        return [
            {text(k): (v if text(k) == "envelope" else text(v)) for k, v in fields.items()}
            for _, fields in entries
        ]

    # -- consuming ---------------------------------------------------------------------

    def consume(
        self,
        *,
        registry: HandlerRegistry | None = None,
        event_types: Sequence[str] | None = None,
        group: str | None = None,
        stop: threading.Event | None = None,
        max_messages: int | None = None,
        idle_timeout: float | None = None,
        consumer: str | None = None,
    ) -> int:
        types = self._types(registry, event_types)
        group = self._group(group)
        dispatcher = self._dispatcher(registry)
        stop = stop or threading.Event()
        consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        streams = [self.stream(t) for t in types]
        budget = ConsumeBudget(max_messages=max_messages, idle_timeout=idle_timeout)
        run = _StreamRun(self, dispatcher, group, consumer, budget)
        attempt = 0
        next_claim = 0.0
        need_groups = True
        logger.info("consuming %s as %s/%s", ", ".join(types), group, consumer)
        while not stop.is_set() and not budget.exhausted:
            try:
                if need_groups:  # at start, and after a reconnect (the server may be new)
                    self.declare(types, group=group)
                    need_groups = False
                attempt = 0
                worked = run.retry_due(stop)
                if time.monotonic() >= next_claim:
                    worked += run.reclaim(streams, stop)
                    next_claim = time.monotonic() + max(0.1, self.claim_idle_ms / 2000)
                if not stop.is_set() and not budget.exhausted:
                    block = self.block_ms if not run.retries else min(self.block_ms, 100)
                    worked += run.read_new(streams, block, stop)
            except RECONNECTABLE as exc:
                attempt += 1
                delay = reconnect_delay(attempt, self.reconnect_backoff_max)
                logger.warning("Redis consumer lost the server (%s), retry in %.1fs", exc, delay)
                need_groups = True
                stop.wait(delay)
                continue
            if worked:
                budget.mark_active()
            elif budget.idle_expired():
                break
        run.leave(streams)
        return budget.settled


class _StreamRun:
    """State of one `consume()` call: its budget, what it will retry and when."""

    def __init__(
        self,
        bus: RedisStreamsBus,
        dispatcher: Dispatcher,
        group: str,
        consumer: str,
        budget: ConsumeBudget,
    ) -> None:
        self.bus = bus
        self.client = bus.client
        self.dispatcher = dispatcher
        self.group = group
        self.consumer = consumer
        self.budget = budget
        # (due time, stream, entry id): our own failed entries, pending on us until then
        self.retries: list[tuple[float, str, str]] = []

    @property
    def windowed(self) -> bool:
        return self.bus.consume_window > 1

    def read_count(self) -> int:
        """Entries to read at once: a window, or a small batch; never more than the budget's."""
        count = self.bus.consume_window if self.windowed else self.bus.batch
        if self.budget.max_messages is not None:
            count = min(count, self.budget.max_messages - self.budget.settled)
        return max(1, count)

    def read_new(self, streams: list[str], block_ms: int, stop: threading.Event) -> int:
        response = self.client.xreadgroup(
            self.group,
            self.consumer,
            dict.fromkeys(streams, ">"),
            count=self.read_count(),
            block=block_ms,
        )
        handled = 0
        for stream, entries in response or []:
            if self.windowed:
                if stop.is_set() or self.budget.exhausted:
                    return handled  # read but not started: pending, reclaimed once idle
                handled += self.process_window(text(stream), [(e, f, 1) for e, f in entries], stop)
                continue
            for entry_id, fields in entries:
                if stop.is_set() or self.budget.exhausted:
                    # Read but not started: pending on us, XAUTOCLAIM hands it on once idle.
                    return handled
                self.process(text(stream), text(entry_id), fields, 1)
                handled += 1
        return handled

    def retry_due(self, stop: threading.Event) -> int:
        now = time.monotonic()
        due = [r for r in self.retries if r[0] <= now]
        if not due:
            return 0
        self.retries = [r for r in self.retries if r[0] > now]
        handled = 0
        for _, stream, entry_id in due:
            if stop.is_set() or self.budget.exhausted:
                return handled
            claimed = self.client.xclaim(stream, self.group, self.consumer, 0, [entry_id])
            handled += self._process_claimed(stream, claimed, stop)
        return handled

    def reclaim(self, streams: list[str], stop: threading.Event) -> int:
        """XAUTOCLAIM entries idle longer than REDIS_CLAIM_IDLE_MS (a dead consumer's)."""
        handled = 0
        for stream in streams:
            cursor = "0-0"
            while not stop.is_set() and not self.budget.exhausted:
                response = self.client.xautoclaim(
                    stream,
                    self.group,
                    self.consumer,
                    min_idle_time=self.bus.claim_idle_ms,
                    start_id=cursor,
                    count=self.read_count(),
                )
                cursor, claimed = text(response[0]), response[1]
                if claimed:
                    logger.info(
                        "reclaimed %d pending entr%s of %s",
                        len(claimed),
                        "y" if len(claimed) == 1 else "ies",
                        stream,
                    )
                handled += self._process_claimed(stream, claimed, stop)
                if cursor == "0-0":
                    break
        return handled

    def _process_claimed(
        self, stream: str, claimed: list[Any], stop: threading.Event | None = None
    ) -> int:
        entries = [(e[0], e[1]) for e in claimed if e and e[1] is not None]
        if not entries:
            return 0
        ids = [text(entry_id) for entry_id, _ in entries]
        pending = self.client.xpending_range(
            stream,
            self.group,
            min=ids[0],
            max=ids[-1],
            count=len(ids) + 100,
            consumername=self.consumer,
        )
        counts = {text(p["message_id"]): int(p["times_delivered"]) for p in pending}
        if self.windowed:
            return self.process_window(
                stream, [(e, f, counts.get(text(e), 2)) for e, f in entries], stop
            )
        handled = 0
        for entry_id, fields in entries:
            if self.budget.exhausted:
                break
            self.process(stream, text(entry_id), fields, counts.get(text(entry_id), 2))
            handled += 1
        return handled

    def process(self, stream: str, entry_id: str, fields: dict[Any, Any], delivery: int) -> None:
        body = fields.get(b"envelope", fields.get("envelope"))
        if delivery > self.bus.max_deliveries:
            # Delivered that often without being settled: it keeps killing its consumers.
            self.dead_letter(
                stream, entry_id, body, f"delivery limit {delivery - 1} exceeded", delivery
            )
            return
        if body is None:
            self.dead_letter(stream, entry_id, b"", "entry has no `envelope` field", delivery)
            return
        result = self.dispatcher.dispatch(body, delivery_count=delivery)
        if result.outcome is Outcome.ACK:
            self.client.xack(stream, self.group, entry_id)
            self.budget.settled_one()
        elif result.outcome is Outcome.RETRY:
            self.retries.append((time.monotonic() + result.delay, stream, entry_id))
        else:
            self.dead_letter(stream, entry_id, body, result.reason, delivery)

    def process_window(
        self,
        stream: str,
        entries: list[tuple[Any, dict[Any, Any], int]],
        stop: threading.Event | None = None,
    ) -> int:
        """Decide (entry id, fields, delivery) of one stream in one transaction, then settle
        them all in one MULTI: the dead ones' XADDs and one XACK of every settled id. Nothing
        is acknowledged before the commit: a crash leaves the window pending on us, and so
        does stopping for what was not decided (reclaimed once idle)."""
        dead: list[tuple[str, bytes | None, str, int]] = []
        work: list[tuple[str, bytes, int]] = []
        for raw_id, fields, delivery in entries:
            entry_id = text(raw_id)
            body = fields.get(b"envelope", fields.get("envelope"))
            if delivery > self.bus.max_deliveries:
                dead.append((entry_id, body, f"delivery limit {delivery - 1} exceeded", delivery))
            elif body is None:
                dead.append((entry_id, b"", "entry has no `envelope` field", delivery))
            else:
                work.append((entry_id, body, delivery))
        results = (
            self.dispatcher.dispatch_window([(body, d) for _, body, d in work], stop=stop)
            if work
            else []
        )
        acked: list[str] = []
        for (entry_id, body, delivery), result in zip(work[: len(results)], results, strict=True):
            if result.outcome is Outcome.ACK:
                acked.append(entry_id)
            elif result.outcome is Outcome.RETRY:
                self.retries.append((time.monotonic() + result.delay, stream, entry_id))
            else:
                dead.append((entry_id, body, result.reason, delivery))
        settled = [*acked, *(entry_id for entry_id, *_ in dead)]
        if settled:
            pipe = self.client.pipeline(transaction=True)
            for entry_id, body, reason, delivery in dead:
                pipe.xadd(
                    self.bus.dead_stream(self.group),
                    self._dead_fields(stream, entry_id, body, reason, delivery),
                )
            pipe.xack(stream, self.group, *settled)
            pipe.execute()
        for _ in settled:
            self.budget.settled_one()
        return len(entries) - (len(work) - len(results))  # what was decided

    def _dead_fields(
        self, stream: str, entry_id: str, body: bytes | None, reason: str, delivery: int
    ) -> dict[str, Any]:
        return {
            "envelope": body or b"",
            "reason": reason[:1000],
            "stream": stream,
            "entry_id": entry_id,
            "deliveries": delivery,
            "group": self.group,
        }

    def dead_letter(
        self, stream: str, entry_id: str, body: bytes | None, reason: str, delivery: int
    ) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(
            self.bus.dead_stream(self.group),
            self._dead_fields(stream, entry_id, body, reason, delivery),
        )
        pipe.xack(stream, self.group, entry_id)
        pipe.execute()
        self.budget.settled_one()

    def leave(self, streams: list[str]) -> None:
        """Forget this consumer's name in the groups if nothing is pending on it."""
        try:
            for stream in streams:
                info = self.client.xpending_range(
                    stream, self.group, min="-", max="+", count=1, consumername=self.consumer
                )
                if not info:
                    self.client.xgroup_delconsumer(stream, self.group, self.consumer)
        except LEAVE_ERRORS:
            logger.debug("could not remove consumer %s", self.consumer, exc_info=True)
