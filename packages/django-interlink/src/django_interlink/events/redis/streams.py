"""Redis Streams bus: consumer groups, acknowledgements, retries and dead letters.

One stream per event type, `<prefix>:<event_type>`, entries `{envelope, event_id,
correlation_id}`; one consumer group per consuming service. A consumer reads new entries with
XREADGROUP, XACKs what its handlers settled, retries a failed entry after its backoff (XCLAIM to
itself), and reclaims entries left pending by a dead consumer with XAUTOCLAIM once idle for
REDIS_CLAIM_IDLE_MS. An entry failing MAX_DELIVERIES times, or that breaks the contract, goes
to `<prefix>:dead:<group>` with its reason and failure history (XADD + XACK in one MULTI),
where `dead_letter_box(group)` reads, replays and discards it (dead_letters.py). An entry
deferred (our infrastructure failed, infrastructure.py) stays pending on us with its delivery
count set back (XCLAIM RETRYCOUNT JUSTID), and nothing is taken while the breaker is open.

With CONSUME_WINDOW = N > 1, a read takes up to N entries (XREADGROUP COUNT=N), decides them in
one database transaction (a savepoint each, consumer.py), and after the commit settles them in
one MULTI: one XACK of the ids, with the XADDs of the dead ones. A read returns what the stream
holds without waiting for more, so a quiet stream is acked at once (CONSUME_WINDOW_WAIT is
RabbitMQ's). A failing entry alone is retried or dead-lettered; a crash before the commit leaves
the whole window pending, reclaimed by XAUTOCLAIM, and the inbox makes the replay harmless.

Redis replicates asynchronously: a primary that dies before its replica has an XADD loses it,
though it already answered. With REDIS_WAIT_REPLICAS = N, each publish ends with `WAIT N
timeout` in the same round trip, and fewer than N confirming replicas is a failed publish
(NotReplicated, a BusUnavailable): the outbox keeps those rows pending and relays them again.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import redis.exceptions as rx

from ...exceptions import BusUnavailable, NotReplicated, PublishError
from ..bus import Consumption, reconnect_delay
from ..contract import encode_batch, encode_event
from ..envelope import Envelope
from ..trace_context import quiet
from .base import RECONNECTABLE, RedisBus, text
from .connection import RedisTarget
from .dead_letters import RedisDeadLetters
from .stream_run import StreamRun

logger = logging.getLogger("django_interlink.events.redis")


class RedisStreamsBus(RedisBus):
    backend = "redis"
    # Entries per read. Small: on SIGTERM, what was read but not started stays pending.
    batch = 10

    def __init__(
        self,
        target: RedisTarget | str,
        *,
        claim_idle_ms: int,
        block_ms: int,
        consume_window: int = 1,
        wait_replicas: int = 0,
        wait_timeout_ms: int = 1000,
        **kwargs: Any,
    ) -> None:
        super().__init__(target, **kwargs)
        self.claim_idle_ms = claim_idle_ms
        self.block_ms = block_ms
        self.consume_window = consume_window
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms

    @classmethod
    def options(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **super().options(config),
            "claim_idle_ms": int(config["REDIS_CLAIM_IDLE_MS"]),
            "block_ms": int(config["REDIS_BLOCK_MS"]),
            "consume_window": int(config["CONSUME_WINDOW"]),
            "wait_replicas": int(config["REDIS_WAIT_REPLICAS"]),
            "wait_timeout_ms": int(config["REDIS_WAIT_TIMEOUT_MS"]),
        }

    def stream(self, event_type: str) -> str:
        return self.channel(event_type)

    # -- publishing --------------------------------------------------------------------

    def publish(self, envelope: Envelope) -> None:
        self.publish_raw(envelope.event_type, _fields(envelope, encode_event(envelope)))

    def publish_results(
        self, envelopes: Sequence[Envelope]
    ) -> tuple[list[str | None], BusUnavailable | None]:
        """A batch's XADDs in one pipeline: one round trip for all of them (see EventBus).

        An event the contract refuses is not sent; Redis refusing one (e.g. OOM) refuses that
        one only. A connection lost during the round trip is retried as a whole (a duplicate
        entry is what at-least-once allows, and the inbox absorbs); if Redis stays away, no
        outcome after the first event sent is known, so those before it are returned. So it is
        when too few replicas confirm the batch (REDIS_WAIT_REPLICAS): NotReplicated.
        """
        outcomes, encoded = encode_batch(envelopes)
        sent = [(i, self.stream(e.event_type), _fields(e, body)) for i, e, body in encoded]
        if not sent:
            return outcomes, None

        def execute() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for _, stream, fields in sent:
                pipe.xadd(stream, fields)
            self._wait(pipe)
            return list(pipe.execute(raise_on_error=False))

        try:
            replies = self._with_reconnect("XADD", execute)
            self._replicated(replies, len(sent))
        except BusUnavailable as exc:
            return outcomes[: sent[0][0]], exc
        for (index, stream, _), reply in zip(sent, replies[: len(sent)], strict=True):
            if isinstance(reply, Exception):
                outcomes[index] = f"Redis refused the event on {stream}: {reply}"
        return outcomes, None

    def publish_raw(self, event_type: str, fields: dict[str, Any]) -> str:
        """XADD fields unchecked (poison tests); returns the entry id once Redis has it."""
        stream = self.stream(event_type)

        def execute() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            pipe.xadd(stream, fields)
            self._wait(pipe)
            return list(pipe.execute(raise_on_error=False))

        replies = self._with_reconnect("XADD", execute)
        if isinstance(replies[0], rx.ResponseError):  # e.g. OOM with maxmemory-policy noeviction
            raise PublishError(f"Redis refused the event on {stream}: {replies[0]}") from replies[0]
        self._replicated(replies, 1)
        return text(replies[0])

    def _wait(self, pipe: Any) -> None:
        """End the round trip with WAIT when REDIS_WAIT_REPLICAS asks for replicas: it answers
        how many replicas have every write of this connection so far (at most the timeout)."""
        if self.wait_replicas:
            pipe.execute_command("WAIT", self.wait_replicas, self.wait_timeout_ms)

    def _replicated(self, replies: list[Any], sent: int) -> None:
        """NotReplicated unless WAIT (the reply after the `sent` XADDs) counted enough replicas."""
        if not self.wait_replicas:
            return
        confirmed = replies[sent] if len(replies) > sent else None
        if isinstance(confirmed, int) and confirmed >= self.wait_replicas:
            return
        raise NotReplicated(
            f"{confirmed if isinstance(confirmed, int) else 'no'} of {self.wait_replicas} Redis "
            f"replica(s) confirmed {sent} event(s) within {self.wait_timeout_ms} ms"
            + (f": {confirmed}" if isinstance(confirmed, Exception) else "")
        )

    # -- groups ------------------------------------------------------------------------

    @quiet  # the bus's plumbing: no client span (trace_context.py)
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

    def dead_letter_box(self, group: str | None = None) -> RedisDeadLetters:
        group = self._group(group)
        return RedisDeadLetters(self.client, self.dead_stream(group), group)

    # -- consuming ---------------------------------------------------------------------

    def _consume(self, run: Consumption) -> None:
        types, group, stop, budget = run.types, run.group, run.stop, run.budget
        consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        streams = [self.stream(t) for t in types]
        stream_run = StreamRun(self, run.dispatcher, group, consumer, budget)
        attempt = 0
        next_claim = 0.0
        need_groups = True
        logger.info("consuming %s as %s/%s", ", ".join(types), group, consumer)
        while run.running:
            try:
                if need_groups:  # at start, and after a reconnect (the server may be new)
                    self.declare(types, group=group)
                    need_groups = False
                    run.listening()
                attempt = 0
                if not stream_run.breaker.allows():  # paused: our infrastructure failed
                    stream_run.keep_retries()
                    budget.mark_active()
                    stop.wait(min(0.5, max(0.01, stream_run.breaker.remaining())))
                    continue
                worked = stream_run.retry_due(stop)
                if time.monotonic() >= next_claim:
                    worked += stream_run.reclaim(streams, stop)
                    next_claim = time.monotonic() + max(0.1, self.claim_idle_ms / 2000)
                if run.running:
                    block = self.block_ms if not stream_run.retries else min(self.block_ms, 100)
                    worked += stream_run.read_new(streams, block, stop)
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
        stream_run.leave(streams)


def _fields(envelope: Envelope, body: bytes) -> dict[str, Any]:
    """An entry's fields: the envelope, its id and correlation id for the tools, and the W3C
    trace context (traceparent, tracestate) when it has one (contracts/events/asyncapi.yaml)."""
    return {
        "envelope": body,
        "event_id": envelope.event_id,
        "correlation_id": envelope.correlation_id,
        **envelope.trace,
    }
