"""Message pacts of the choreographed checkout's 11 `checkout.*` events.

One pact per pair of participants: the consumer is the participant that handles the event
(`checkout-<participant>`), the provider the one that publishes it (`checkout-<participant>`,
or `checkout-shop` for checkout.requested, which the shop enqueues when a checkout starts).
A pact per pair, rather than one "checkout-participants" consumer, shows in its file name who
depends on whom: changing what the payments participant publishes names the pacts it breaks.

What a participant expects is what its code reads (tools/pacts/reads.py): the envelope fields
the inbox and `_publish` use (event_id, event_type, version, correlation_id) and, from `data`,
the fields its handler and prepare step read, each by type. The three events no participant
handles (customer_rejected, stock_refused, stock_released end the checkout) have the
`event-subscribers` pact of any subscriber: the envelope and every field the AsyncAPI requires.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from pact import Pact, match

from shop.choreography.participants import registry
from shop.event_samples import SAMPLE_DATA
from tools.pacts import messages, reads
from tools.pacts.http import UUID
from tools.pacts.messages import SUBSCRIBERS, description, expected_envelope

CHECKOUT_EVENTS = tuple(sorted(reads.publishers()))


def party(participant: str) -> str:
    return f"checkout-{participant}"


def checkout_pacts() -> dict[tuple[str, str], tuple[str, ...]]:
    """(consumer, provider) -> the checkout event types of that pact, in flow order."""
    consumed, published = reads.reads(), reads.publishers()
    pacts: dict[tuple[str, str], list[str]] = {}
    for event_type in CHECKOUT_EVENTS:
        provider = party(published[event_type])
        consumers = [party(p) for p in consumed.get(event_type, {})] or [SUBSCRIBERS]
        for consumer in consumers:
            pacts.setdefault((consumer, provider), []).append(event_type)
    return {pair: tuple(types) for pair, types in sorted(pacts.items())}


def _like(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 36 and value.count("-") == 4:
        return match.regex(value, regex=UUID)
    if isinstance(value, list) and value:
        return match.each_like(_like(value[0]))
    return match.like(value)


def participant_envelope(event_type: str, participant: str) -> dict[str, Any]:
    """The part of `event_type` that `participant`'s code reads."""
    fields = reads.reads()[event_type][participant]
    return {
        "event_id": match.regex("6f1c2d9e-0000-4000-8000-0000000e0001", regex=UUID),
        "event_type": event_type,
        "version": 1,
        "correlation_id": match.like("3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"),
        "data": {name: _like(SAMPLE_DATA[event_type][name]) for name in sorted(fields)},
    }


def expected(consumer: str, event_type: str) -> dict[str, Any]:
    if consumer == SUBSCRIBERS:
        return expected_envelope(event_type)
    return participant_envelope(event_type, consumer.removeprefix("checkout-"))


def consume(consumer: str, body: str | bytes | None, metadata: dict[str, object]) -> None:
    """The consumer's side: the message routes to the event type, a handler of this
    participant takes it, and every field its code reads is there."""
    if consumer == SUBSCRIBERS:
        return messages.consume(consumer, body, metadata)  # validates the whole envelope
    envelope = json.loads(body or b"{}")
    event_type = envelope.get("event_type")
    if metadata.get("routingKey") != event_type:
        raise AssertionError(f"routing key {metadata.get('routingKey')!r} is not {event_type!r}")
    participant = consumer.removeprefix("checkout-")
    names = [reads.participant_of(h.name) for h in registry.handlers_for(str(event_type))]
    if participant not in names:
        raise AssertionError(f"no {participant} participant handles {event_type}")
    missing = sorted(reads.reads()[event_type][participant] - set(envelope.get("data", {})))
    if missing or not envelope.get("event_id") or not envelope.get("correlation_id"):
        raise AssertionError(f"{event_type} lacks what {participant} reads: {missing}")


def write_checkout_pacts(out_dir: Path) -> list[Path]:
    written: list[Path] = []
    for (consumer, provider), event_types in checkout_pacts().items():
        pact = Pact(consumer, provider).with_specification("V4")
        for event_type in event_types:
            (
                pact.upon_receiving(description(event_type), "Async")
                .with_body(expected(consumer, event_type), "application/json")
                .with_metadata({"routingKey": event_type})
            )
        pact.verify(functools.partial(consume, consumer), "Async")
        out_dir.mkdir(parents=True, exist_ok=True)
        pact.write_file(out_dir, overwrite=True)
        written.append(out_dir / f"{consumer}-{provider}.json")
    return written
