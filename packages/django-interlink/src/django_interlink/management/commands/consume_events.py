"""Consume events from the configured bus and run their handlers until SIGTERM.

    manage.py consume_events                               # every handled type, configured bus
    manage.py consume_events user.created order.created --bus rabbitmq --group billing
    manage.py consume_events --window 50       # up to 50 messages per transaction and ack

SIGTERM or SIGINT: the message in hand is finished and acknowledged, then the process exits.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_interlink.events.backends import BACKENDS, build_bus
from django_interlink.events.handlers import load_registry
from django_interlink.management.arguments import non_negative, positive
from django_interlink.management.heap import freeze_startup_heap
from django_interlink.management.metrics_endpoint import add_metrics_arguments, metrics_endpoint
from django_interlink.management.shutdown import stop_on_signals

logger = logging.getLogger("django_interlink.events.consume")


class Command(BaseCommand):
    help = "Consume events (some types or all) and run their handlers; graceful on SIGTERM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("event_types", nargs="*", help="event types (default: all handled)")
        parser.add_argument("--bus", choices=BACKENDS, help="backend (default: EVENT_BUS)")
        parser.add_argument("--group", help="consuming service: queue/consumer-group name")
        parser.add_argument(
            "--handler-module",
            action="append",
            dest="handler_modules",
            help="module with `registry = HandlerRegistry()` (repeatable; default: settings)",
        )
        parser.add_argument("--exchange", help="RabbitMQ exchange (default: settings)")
        parser.add_argument("--stream-prefix", help="Redis stream/channel prefix")
        parser.add_argument(
            "--window", type=int, help="messages per transaction (default: CONSUME_WINDOW)"
        )
        parser.add_argument(
            "--max-messages", type=positive(int), help="exit after settling this many"
        )
        parser.add_argument(
            "--idle-timeout", type=non_negative(float), help="exit after this long idle (s)"
        )
        parser.add_argument(
            "--declare-only", action="store_true", help="create queues/groups, then exit"
        )
        add_metrics_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            registry = load_registry(options["handler_modules"])
        except ImportError as exc:  # a module that is missing or has no registry
            raise CommandError(f"cannot load the handlers: {exc}") from exc
        types: list[str] = options["event_types"] or registry.event_types
        unhandled = sorted(set(types) - set(registry.event_types))
        if unhandled:
            raise CommandError(f"no handler for: {', '.join(unhandled)}")
        if not types:
            raise CommandError("no event types to consume")
        if options["window"] is not None and options["window"] < 1:
            raise CommandError("--window must be 1 or more")
        overrides = {
            key: value
            for key, value in {
                "RABBITMQ_EXCHANGE": options["exchange"],
                "REDIS_STREAM_PREFIX": options["stream_prefix"],
                "CONSUME_WINDOW": options["window"],
            }.items()
            if value
        }
        endpoint = metrics_endpoint(options, self.stdout.write)
        try:
            bus = build_bus(options["bus"], **overrides)
        except ValueError as exc:  # a backend without its URL
            endpoint.close()
            raise CommandError(str(exc)) from exc
        try:
            if options["declare_only"]:
                bus.declare(types, group=options["group"])
                self.stdout.write(f"declared {', '.join(types)}")
                return
            freeze_startup_heap()  # heap.py: the collector's full passes skip the startup heap
            with stop_on_signals(logger, "the current message") as stop:
                settled = bus.consume(
                    registry=registry.only(types),
                    event_types=types,
                    group=options["group"],
                    stop=stop,
                    max_messages=options["max_messages"],
                    idle_timeout=options["idle_timeout"],
                )
        finally:
            endpoint.close()
            bus.close()
        logger.info("consumer exiting after settling %d message(s)", settled)
        self.stdout.write(f"settled {settled}")
