"""The pika errors after which the publisher and the consumer connect again."""

from __future__ import annotations

import pika.exceptions as pe

# Errors after which a fresh connection may succeed (broker restarting, network blip, a node of
# the cluster gone): the publisher and the consumer reconnect on these, to another node at once.
RECONNECTABLE: tuple[type[BaseException], ...] = (
    pe.AMQPConnectionError,
    pe.ChannelWrongStateError,
    pe.ConnectionWrongStateError,
    ConnectionError,
    OSError,
)
