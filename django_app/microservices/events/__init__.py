"""Events: contracts, buses (memory, RabbitMQ, Redis), the transactional outbox and the inbox.

Producers call `outbox_enqueue(event_type, data, correlation_id=...)` inside their transaction;
`outbox_relay()` publishes; consumers run `manage.py consume_events`.
"""

from __future__ import annotations

from typing import Any

# Lazy, so importing the package (system checks do, while apps load) does not import models.
_EXPORTS = {
    "outbox_enqueue": ".outbox",
    "outbox_relay": ".outbox",
    "Envelope": ".envelope",
    "EventBus": ".bus",
    "get_bus": ".backends",
    "HandlerRegistry": ".handlers",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
