"""What `EventBus.publish_results` says of an event the broker did not take (None: it did)."""

from __future__ import annotations


class Declined(str):
    """The broker declined responsibility for the event for now (a RabbitMQ nack). That says
    nothing against the event itself, unlike a contract violation or an unroutable event (a
    plain str outcome): send it again, and do not count it as a try that brings the event
    closer to being given up (outbox.py)."""
