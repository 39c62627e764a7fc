"""Scene of the events: the outbox written in the producer's transaction, the relay, the
inbox that makes a redelivery harmless, and malformed events dead-lettered."""

from __future__ import annotations

import secrets
import uuid
from collections import Counter

from django.contrib.auth import get_user_model
from django.db import transaction

from django_interlink.events.envelope import Envelope
from django_interlink.events.handlers import load_registry
from django_interlink.events.outbox import outbox_enqueue
from django_interlink.models import InboxEvent, OutboxEvent, OutboxStatus
from project.demo.harness import Demo
from shop.models import UserProfile

CONSUMER_GROUP = "demo-profiles"


class SignupFailed(Exception):
    """The failure that rolls back the demo's first sign-up, after both of its writes."""


def _sign_up(name: str, *, fail: bool = False) -> str:
    """The producer: a local user and its user.created event, in one transaction."""
    email = f"{name.lower()}+{secrets.token_hex(3)}@example.com"
    with transaction.atomic():
        get_user_model().objects.create_user(username=email, email=email, first_name=name)
        envelope = outbox_enqueue(
            "user.created", {"user_id": str(uuid.uuid4()), "email": email, "name": name}
        )
        if fail:
            raise SignupFailed(envelope.event_id)
    return envelope.event_id


def events_outbox_inbox(demo: Demo) -> None:
    """Outbox in the producer's transaction, relay to the bus, inbox-deduplicated consumer,
    malformed events dead-lettered while the consumer carries on."""
    stack, group = demo.stack, demo.stack.group(CONSUMER_GROUP)
    handler_name = load_registry(["shop.handlers"]).handlers_for("user.created")[0].name
    stack.declare(["user.created"], group=group)  # the queue exists before the relay runs

    saga_events = Counter(
        OutboxEvent.objects.filter(status=OutboxStatus.PENDING).values_list("event_type", flat=True)
    )
    demo.say(
        "outbox: the sagas' events, committed with their steps: "
        + (", ".join(f"{t} x{n}" for t, n in sorted(saga_events.items())) or "none")
    )

    try:
        _sign_up("Mallory", fail=True)
    except SignupFailed as exc:
        lost_event = str(exc)
    else:
        raise AssertionError("the failing sign-up did not fail")
    demo.recorder.note_event(
        "rolled_back",
        event_type="user.created",
        event_id=lost_event,
        source="django",
        target="outbox",
        detail="the sign-up's transaction rolled back: its outbox row went with it",
    )
    demo.check(
        "rolled-back sign-up: neither the user nor its event kept",
        (
            get_user_model().objects.filter(first_name="Mallory").count(),
            OutboxEvent.objects.filter(event_id=lost_event).count(),
        ),
        (0, 0),
    )
    event_id = _sign_up("Ada")
    row = OutboxEvent.objects.get(event_id=event_id)
    demo.say(f"committed sign-up: user Ada and outbox row #{row.pk} user.created ({row.status})")

    sent, refused = stack.relay()
    demo.say(
        f"relay: {sent} published to the {stack.bus.backend} bus, {refused} refused"
        " (only user.created has a consumer in this demo)"
    )
    demo.check("outbox drained", OutboxEvent.objects.filter(status=OutboxStatus.PENDING).count(), 0)

    mails = len(stack.mail_subjects())
    stack.consume("user.created", group=group, max_messages=1)
    profile = UserProfile.objects.get(email=row.payload["data"]["email"])
    demo.say(
        f"consumer {handler_name}: UserProfile {profile.name} <{profile.email}>,"
        f" welcome e-mail {stack.mail_subjects()[-1]!r}"
    )
    demo.check("one welcome e-mail sent", len(stack.mail_subjects()) - mails, 1)

    # The relay dies after the bus has the event and before it marks the row sent: the row is
    # still pending, so the next relay publishes it again (at least once).
    OutboxEvent.objects.filter(pk=row.pk).update(status=OutboxStatus.PENDING, sent_at=None)
    demo.recorder.note(
        f"the relay dies after publishing {event_id[:8]}… and before marking outbox row"
        f" #{row.pk} sent: the row is still pending"
    )
    redelivered, _ = stack.relay()
    skipped = stack.consume("user.created", group=group, max_messages=1).skipped
    demo.say(f"relay died before marking the row sent: the next relay re-published {redelivered};")
    demo.say(f"the inbox says {handler_name} already handled {event_id[:8]}…")
    demo.check(
        "redelivery skipped by the inbox: skips, inbox rows, profiles, e-mails",
        (
            len(skipped),
            InboxEvent.objects.filter(event_id=event_id).count(),
            UserProfile.objects.filter(email=profile.email).count(),
            len(stack.mail_subjects()) - mails,
        ),
        (1, 1, 1, 1),
    )

    # A foreign producer's bytes: not JSON at all, and an envelope whose data breaks the schema.
    stack.publish_raw("user.created", b'{"event_id": "7f0c", "event_type": "user.cre')
    bad = Envelope.new("user.created", {"user_id": str(uuid.uuid4()), "name": "Eve"})
    stack.publish_raw("user.created", bad.to_bytes())
    next_event = _sign_up("Linus")
    stack.relay()
    settled = stack.consume("user.created", group=group, max_messages=3).settled
    dead = stack.dead_letters("user.created", group=group)
    for letter in dead:
        demo.say(f"dead-lettered after {letter.deliveries} delivery: {letter.reason[:88]}")
    demo.check("both malformed events in the dead-letter queue", len(dead), 2)
    demo.check(
        "the consumer lived on: the next event was handled",
        (settled, InboxEvent.objects.filter(event_id=next_event).count()),
        (3, 1),
    )
