"""The RabbitMQ bus and what it is built from, a module each (FastStream's `rabbit/`).

    from django_interlink.events.rabbitmq import RabbitMQBus    # or get_bus(), BACKEND "rabbitmq"

The bus is loaded on first use of that name: importing a module of this package (the system
checks and /health/ready/ read nodes.py) does not load the bus and its consumer.

Layers, each importing only from the layers below it (`|`: independent of each other):

    bus                                  the bus: connections, publishing, declare, consume
    subscriber | dead_letters            one consume() call at work; the dead-letter queue,
                                         read without consuming it
    settle                               what becomes of a delivery once its Outcome is decided
    publisher | topology | nodes | errors
                                         the confirming publisher; the exchanges and queues;
                                         the nodes of RABBITMQ_URL and when to reconnect; the
                                         errors that call for a new connection
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .bus import RabbitMQBus

__all__ = ["RabbitMQBus"]


def __getattr__(name: str) -> Any:
    if name == "RabbitMQBus":
        from .bus import RabbitMQBus

        return RabbitMQBus
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
