"""Test-only e-mail backends: a server that is always down, and one that bounces some buyers'
mail (to make send_confirmation fail)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[Any]) -> int:
        raise ConnectionRefusedError("test mail server is down")


#: Mail to addresses starting with this is refused (BouncingEmailBackend).
BOUNCING = "bounce"


class BouncingEmailBackend(BaseEmailBackend):
    """Delivers nowhere (as locmem, without keeping it), but refuses mail to an address that
    starts with BOUNCING: that buyer's order saga fails at its last step and undoes a charge."""

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        for message in email_messages:
            if any(address.startswith(BOUNCING) for address in message.recipients()):
                raise ConnectionRefusedError(f"mail to {message.recipients()} bounced")
        return len(email_messages)
