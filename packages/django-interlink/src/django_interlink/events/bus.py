"""The `EventBus` interface every backend implements (memory, RabbitMQ, Redis).

    bus = get_bus()                      # backends.py: the configured bus of this thread
    bus.publish(Envelope.new("user.created", {...}))
    bus.subscribe("user.created", on_user_created)
    bus.consume(stop=stop_event)         # until `stop` is set

Publishing validates against the contract and returns only once the broker has the event
(confirms on RabbitMQ, XADD's reply on Redis). Consuming hands each message to a `Dispatcher`
whose `Outcome` (ack, retry later, dead-letter, defer) the backend carries out; a DEFER (our
infrastructure failed, infrastructure.py) is given back uncounted while the dispatcher's breaker
holds the consumer. Both broker buses wait `reconnect_delay()` between attempts to reach a broker
that went away. `dead_letter_box(group)` reads, replays and discards a group's dead letters.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence

from ..conf import ms_settings
from ..exceptions import BusUnavailable, EventContractViolation, PublishError
from .consumer import Dispatcher
from .dead_letters import DeadLetterBox
from .envelope import Envelope
from .handlers import Handler, HandlerRegistry
from .infrastructure import Breaker
from .infrastructure import reconnect_delay as reconnect_delay  # the buses' one backoff


class EventBus(ABC):
    """Publish validated envelopes; consume them through a dispatcher (see consumer.py)."""

    backend: str = ""

    def __init__(self) -> None:
        self.registry = HandlerRegistry()

    @abstractmethod
    def publish(self, envelope: Envelope) -> None:
        """Validate and publish one event; return once the broker holds it.

        Raises `EventContractViolation` (nothing sent), `PublishError` (refused or returned) or
        `BusUnavailable` (broker unreachable after reconnect attempts).
        """

    def publish_many(self, envelopes: Iterable[Envelope]) -> int:
        """Publish several events; raises on the first one refused (see `publish`)."""
        batch = list(envelopes)
        outcomes, unavailable = self.publish_results(batch)
        for outcome in outcomes:
            if outcome is not None:
                raise PublishError(outcome)
        if unavailable is not None:
            raise unavailable
        return len(batch)

    def publish_results(
        self, envelopes: Sequence[Envelope]
    ) -> tuple[list[str | None], BusUnavailable | None]:
        """Publish a batch and say what became of each event, in order: None if the broker has
        it, otherwise why it was refused: contract, unroutable, or nacked (then a
        `publish_outcomes.Declined`: try it again, it is not a verdict on the event).

        If the broker became unreachable, the outcomes cover only the events before that point
        and the error is returned alongside (the rest were not published).
        """
        outcomes: list[str | None] = []
        for envelope in envelopes:
            try:
                self.publish(envelope)
            except BusUnavailable as exc:
                return outcomes, exc
            except (PublishError, EventContractViolation) as exc:
                outcomes.append(str(exc))
            else:
                outcomes.append(None)
        return outcomes, None

    def subscribe(self, event_type: str, handler: Handler, *, name: str | None = None) -> None:
        """Add a handler to this bus's own registry (what `consume()` uses by default)."""
        self.registry.add(event_type, handler, name=name)

    def declare(self, event_types: Sequence[str], *, group: str | None = None) -> None:
        """Create what consuming needs (queues, consumer groups) without consuming.

        Run before producers start when the broker refuses unroutable events (RabbitMQ).
        """
        return None

    @abstractmethod
    def consume(
        self,
        *,
        registry: HandlerRegistry | None = None,
        event_types: Sequence[str] | None = None,
        group: str | None = None,
        stop: threading.Event | None = None,
        max_messages: int | None = None,
        idle_timeout: float | None = None,
    ) -> int:
        """Deliver events to handlers until `stop` is set, `max_messages` were settled, or
        nothing arrived for `idle_timeout` seconds. Returns the number of messages settled.

        `event_types` defaults to every type the registry handles; `group` is the consuming
        service (one queue or consumer group per service), by default CONSUMER_GROUP.
        """

    def close(self) -> None:
        """Release connections; the bus reconnects if used again."""
        return None

    def dead_letter_box(self, group: str | None = None) -> DeadLetterBox:
        """The dead letters of `group` (default CONSUMER_GROUP): list, show, replay, discard."""
        raise NotImplementedError(f"the {self.backend} bus keeps no dead letters to operate")

    # helpers shared by the backends

    def _dispatcher(self, registry: HandlerRegistry | None, group: str = "") -> Dispatcher:
        cap = getattr(self, "reconnect_backoff_max", None)
        return Dispatcher(
            registry if registry is not None else self.registry,
            max_deliveries=getattr(self, "max_deliveries", None),
            breaker=Breaker(cap=cap),
            group=group,
            system=self.backend,
        )

    def _types(
        self, registry: HandlerRegistry | None, event_types: Sequence[str] | None
    ) -> list[str]:
        types = list(event_types) if event_types else (registry or self.registry).event_types
        if not types:
            raise ValueError("nothing to consume: no event types given and no handler registered")
        return sorted(set(types))

    @staticmethod
    def _group(group: str | None) -> str:
        return group or str(ms_settings.EVENT_BUS["CONSUMER_GROUP"])
