"""Redis pub/sub bus, explicitly fire-and-forget: for notifications that may be lost.

PUBLISH and SUBSCRIBE on `<prefix>:<event_type>`: nothing is stored, nothing acknowledged, a
subscriber that is away misses what is published meanwhile (redis_streams.py keeps it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from .budget import ConsumeBudget
from .consumer import Outcome
from .contract import encode_event
from .envelope import Envelope
from .handlers import HandlerRegistry
from .redis_base import RedisBus, text

logger = logging.getLogger("django_interlink.events.redis")


class RedisPubSubBus(RedisBus):
    """Fire-and-forget: PUBLISH/SUBSCRIBE, no storage, no acks, no redelivery.

    A handler failure is retried in process (bounded, with backoff) and then logged and written
    to the dead stream; an event published while no subscriber listens is simply gone.
    """

    backend = "redis_pubsub"

    def publish(self, envelope: Envelope) -> None:
        body = encode_event(envelope)
        channel = self.channel(envelope.event_type)
        receivers = self._with_reconnect("PUBLISH", lambda: self.client.publish(channel, body))
        if not receivers:
            logger.debug("%s published with no subscriber listening: lost", envelope.event_type)

    def consume(
        self,
        *,
        registry: HandlerRegistry | None = None,
        event_types: Sequence[str] | None = None,
        group: str | None = None,
        stop: threading.Event | None = None,
        max_messages: int | None = None,
        idle_timeout: float | None = None,
        ready: threading.Event | None = None,
    ) -> int:
        types = self._types(registry, event_types)
        group = self._group(group)
        dispatcher = self._dispatcher(registry, group)
        stop = stop or threading.Event()
        budget = ConsumeBudget(max_messages=max_messages, idle_timeout=idle_timeout)
        pubsub = self.client.pubsub()
        try:
            channels = {self.channel(t) for t in types}
            pubsub.subscribe(*channels)
            # Listening only once Redis confirmed every subscription (PUBLISH from another
            # connection could otherwise overtake our SUBSCRIBE).
            deadline = time.monotonic() + 10
            while channels and time.monotonic() < deadline:
                confirmation = pubsub.get_message(timeout=0.2)
                if confirmation and confirmation["type"] == "subscribe":
                    channels.discard(text(confirmation["channel"]))
            if ready is not None:
                ready.set()
            while not stop.is_set() and not budget.exhausted:
                message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
                if message is None or message["type"] != "message":
                    if budget.idle_expired():
                        break
                    continue
                budget.mark_active()
                body = message["data"]
                for delivery in range(1, self.max_deliveries + 1):
                    result = dispatcher.dispatch(body, delivery_count=delivery)
                    while result.outcome is Outcome.DEFER and not stop.is_set():
                        dispatcher.breaker.wait(stop)  # our infrastructure: not counted
                        result = dispatcher.dispatch(body, delivery_count=delivery)
                    if result.outcome is not Outcome.RETRY:
                        break
                    stop.wait(result.delay)
                if result.outcome is not Outcome.ACK:
                    logger.error("pub/sub event not handled: %s", result.reason)
                    self.client.xadd(
                        self.dead_stream(group), {"envelope": body, "reason": result.reason}
                    )
                budget.settled_one()
        finally:
            pubsub.close()
        return budget.settled
