"""The handlers `consume_events` runs (INTERLINK["EVENT_BUS"]["HANDLER_MODULES"])."""

import logging

from django_interlink.events.envelope import Envelope
from django_interlink.events.handlers import HandlerRegistry

logger = logging.getLogger(__name__)
registry = HandlerRegistry()


@registry.handler("greeting.sent")
def on_greeting_sent(envelope: Envelope) -> None:
    # Runs once per event: in the inbox's transaction, which records that it ran.
    logger.info("greeted %s", envelope.data["name"])
