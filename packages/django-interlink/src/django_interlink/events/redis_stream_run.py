"""One `RedisStreamsBus.consume()` call at work: read, retry, reclaim, defer, settle.

What it reads is decided by the dispatcher (consumer.py) and settled here: XACK, a retry after
its backoff (XCLAIM to ourselves), XAUTOCLAIM of a dead consumer's entries, the dead stream for
what failed for good (with its failure history, redis_dead_letters.py), and for what our
infrastructure failed (DEFER) nothing but its delivery count set back: it stays pending on us
until the dispatcher's breaker lets us try again.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

import redis.exceptions as rx

from .budget import ConsumeBudget
from .consumer import Dispatcher, Outcome
from .dead_letters import failure
from .redis_base import RECONNECTABLE, text
from .redis_dead_letters import dead_fields

logger = logging.getLogger("django_interlink.events.redis")

LEAVE_ERRORS: tuple[type[BaseException], ...] = (*RECONNECTABLE, rx.ResponseError)


class StreamBus(Protocol):
    """What a run needs of its bus (RedisStreamsBus)."""

    client: Any
    batch: int
    claim_idle_ms: int
    consume_window: int
    max_deliveries: int

    def dead_stream(self, group: str) -> str: ...


class StreamRun:
    """State of one `consume()` call: its budget, what it will retry and when."""

    def __init__(
        self,
        bus: StreamBus,
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
        self.breaker = dispatcher.breaker
        # (due time, stream, entry id): our own failed entries, pending on us until then
        self.retries: list[tuple[float, str, str]] = []
        # entry id -> its failures seen here, for its dead letter's history
        self.failures: dict[str, list[dict[str, Any]]] = {}
        self._kept = 0.0

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
                if not self.breaker.allows():
                    self.defer(text(stream), [text(e) for e, _ in entries], 1)
                    continue
                handled += self.process_window(text(stream), [(e, f, 1) for e, f in entries], stop)
                continue
            for entry_id, fields in entries:
                if stop.is_set() or self.budget.exhausted:
                    # Read but not started: pending on us, XAUTOCLAIM hands it on once idle.
                    return handled
                if not self.breaker.allows():  # an earlier entry of this read was deferred
                    self.defer(text(stream), [text(entry_id)], 1)
                    continue
                self.process(text(stream), text(entry_id), fields, 1)
                handled += 1
        return handled

    def defer(self, stream: str, entry_ids: list[str], delivery: int) -> None:
        """Our infrastructure failed: the entries stay pending on us, their delivery count set
        back to what it was (JUSTID does not count), retried once the breaker allows."""
        self.client.xclaim(
            stream, self.group, self.consumer, 0, entry_ids, retrycount=delivery - 1, justid=True
        )
        now = time.monotonic()
        self.retries.extend((now, stream, entry_id) for entry_id in entry_ids)

    def keep_retries(self) -> None:
        """While paused, keep our pending entries ours: an XCLAIM JUSTID resets their idle time
        (so no XAUTOCLAIM takes them, counting a delivery) without counting one itself."""
        if not self.retries or time.monotonic() - self._kept < self.bus.claim_idle_ms / 3000:
            return
        self._kept = time.monotonic()
        by_stream: dict[str, list[str]] = {}
        for _, stream, entry_id in self.retries:
            by_stream.setdefault(stream, []).append(entry_id)
        for stream, ids in by_stream.items():
            self.client.xclaim(stream, self.group, self.consumer, 0, ids, justid=True)

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
            delivery = counts.get(text(entry_id), 2)
            if not self.breaker.allows():
                self.defer(stream, [text(entry_id)], delivery)
                continue
            self.process(stream, text(entry_id), fields, delivery)
            handled += 1
        return handled

    def process(self, stream: str, entry_id: str, fields: dict[Any, Any], delivery: int) -> None:
        body = fields.get(b"envelope", fields.get("envelope"))
        if delivery > self.bus.max_deliveries:
            # Delivered that often without being settled: it keeps killing its consumers.
            self.dead_letter(
                stream, entry_id, fields, f"delivery limit {delivery - 1} exceeded", delivery
            )
            return
        if body is None:
            self.dead_letter(stream, entry_id, fields, "entry has no `envelope` field", delivery)
            return
        result = self.dispatcher.dispatch(body, delivery_count=delivery, headers=fields)
        if result.outcome is Outcome.ACK:
            self.client.xack(stream, self.group, entry_id)
            self.failures.pop(entry_id, None)
            self.budget.settled_one()
        elif result.outcome is Outcome.DEFER:
            self.defer(stream, [entry_id], delivery)
        elif result.outcome is Outcome.RETRY:
            self.failures.setdefault(entry_id, []).append(failure(result.reason, delivery))
            self.retries.append((time.monotonic() + result.delay, stream, entry_id))
        else:
            self.dead_letter(stream, entry_id, fields, result.reason, delivery)

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
        dead: list[tuple[str, dict[Any, Any], str, int]] = []
        work: list[tuple[str, dict[Any, Any], bytes, int]] = []
        for raw_id, fields, delivery in entries:
            entry_id = text(raw_id)
            body = fields.get(b"envelope", fields.get("envelope"))
            if delivery > self.bus.max_deliveries:
                dead.append((entry_id, fields, f"delivery limit {delivery - 1} exceeded", delivery))
            elif body is None:
                dead.append((entry_id, fields, "entry has no `envelope` field", delivery))
            else:
                work.append((entry_id, fields, body, delivery))
        results = (
            self.dispatcher.dispatch_window(
                [(body, d) for _, _, body, d in work],
                stop=stop,
                headers=[fields for _, fields, _, _ in work],
            )
            if work
            else []
        )
        acked: list[str] = []
        deferred: list[tuple[str, int]] = []
        for (entry_id, fields, _, delivery), result in zip(
            work[: len(results)], results, strict=True
        ):
            if result.outcome is Outcome.ACK:
                acked.append(entry_id)
                self.failures.pop(entry_id, None)
            elif result.outcome is Outcome.DEFER:
                deferred.append((entry_id, delivery))
            elif result.outcome is Outcome.RETRY:
                self.failures.setdefault(entry_id, []).append(failure(result.reason, delivery))
                self.retries.append((time.monotonic() + result.delay, stream, entry_id))
            else:
                dead.append((entry_id, fields, result.reason, delivery))
        for entry_id, delivery in deferred:
            self.defer(stream, [entry_id], delivery)
        settled = [*acked, *(entry_id for entry_id, *_ in dead)]
        if settled:
            pipe = self.client.pipeline(transaction=True)
            for entry_id, fields, reason, delivery in dead:
                pipe.xadd(
                    self.bus.dead_stream(self.group),
                    self._dead_fields(stream, entry_id, fields, reason, delivery),
                )
            pipe.xack(stream, self.group, *settled)
            pipe.execute()
        for _ in settled:
            self.budget.settled_one()
        # what was decided (a deferred entry was not)
        return len(entries) - (len(work) - len(results)) - len(deferred)

    def _dead_fields(
        self, stream: str, entry_id: str, fields: dict[Any, Any], reason: str, delivery: int
    ) -> dict[str, Any]:
        history = self.failures.pop(entry_id, [])
        return dead_fields(
            group=self.group,
            stream=stream,
            entry_id=entry_id,
            fields=fields,
            reason=reason,
            delivery=delivery,
            history=[*history, failure(reason, delivery)],
        )

    def dead_letter(
        self, stream: str, entry_id: str, fields: dict[Any, Any], reason: str, delivery: int
    ) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(
            self.bus.dead_stream(self.group),
            self._dead_fields(stream, entry_id, fields, reason, delivery),
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
