"""Handlers for `consume_events --handler-module integration_tests.trace_handlers`: events of
the order saga that the shop does not consume, handled so that test_tracing sees their
`process` spans. They do nothing else."""

from __future__ import annotations

from django_interlink.events.envelope import Envelope
from django_interlink.events.handlers import HandlerRegistry

registry = HandlerRegistry()


@registry.handler("payment.processed", name="trace.payment_processed")
def on_payment_processed(envelope: Envelope) -> None:
    return None
