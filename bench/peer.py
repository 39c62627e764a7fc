"""What bench_peer.py hands django-outbox-pattern, as its README prescribes: the header function
of its DEFAULT_GENERATE_HEADERS setting, and a consumer callback that saves in a transaction.

Imported only once Django is set up (the peer's modules load its models).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django_outbox_pattern.headers import generate_headers
from django_outbox_pattern.payloads import Payload


def persistent_headers(message: Any) -> dict[str, Any]:
    """The peer's own headers, plus persistent:true so that RabbitMQ keeps its messages on disk."""
    headers: dict[str, Any] = generate_headers(message)
    return {**headers, "persistent": "true"}


class SavedCounter:
    """Counts the messages a peer callback saved; `wait()` returns once `target` were."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.saved = 0
        self.done = threading.Event()

    def callback(self) -> Callable[[Payload], None]:
        def on_message(payload: Payload) -> None:
            # The README's pattern: the handler's writes (none here) and payload.save() commit
            # together; the library acks once the callback returns.
            with transaction.atomic():
                payload.save()
            self.saved += 1
            if self.saved >= self.target:
                self.done.set()

        return on_message

    def wait(self, timeout: float) -> bool:
        return self.done.wait(timeout)
