"""What the rest of the project calls: start a greeting saga, announce a greeting."""

import uuid

from django.db import transaction

from django_interlink.events.envelope import Envelope
from django_interlink.events.outbox import outbox_enqueue
from django_interlink.sagas.services import saga_create

from .sagas import GREETING


def greeting_start(*, name: str) -> str:
    """Store a greeting saga; a `resume_sagas` worker runs it. Returns its id."""
    saga_id = str(uuid.uuid4())
    saga_create(definition=GREETING, saga_id=saga_id, context={"name": name})
    return saga_id


def greeting_announce(*, name: str) -> Envelope:
    """Publish greeting.sent through the outbox: it commits with the caller's changes."""
    with transaction.atomic():
        # ... the state change this event announces goes here ...
        return outbox_enqueue("greeting.sent", {"name": name})
