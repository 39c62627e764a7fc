"""Publish the outbox: pending events in order, with confirms, until SIGTERM (or once).

manage.py relay_outbox            # loop; several relays may run at once (SKIP LOCKED)
manage.py relay_outbox --once     # publish what is due and exit (cron, tests)

The loop also purges what is past its retention every RETENTION['INTERVAL'] seconds (sent
outbox rows, inbox rows, expired keys, finished sagas; Redis streams trimmed): see
django_interlink.retention.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_interlink.conf import ms_settings
from django_interlink.events.backends import BACKENDS, build_bus
from django_interlink.events.outbox import outbox_purge_sent, outbox_relay, outbox_relay_loop
from django_interlink.exceptions import BusUnavailable
from django_interlink.management.arguments import non_negative, positive
from django_interlink.management.metrics_endpoint import add_metrics_arguments, metrics_endpoint
from django_interlink.management.shutdown import stop_on_signals
from django_interlink.retention.purge import RetentionSchedule

logger = logging.getLogger("django_interlink.events.relay")


class Command(BaseCommand):
    help = "Publish pending outbox events in order with broker confirms and mark them sent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bus", choices=BACKENDS, help="backend (default: EVENT_BUS)")
        parser.add_argument("--once", action="store_true", help="relay what is due, then exit")
        parser.add_argument(
            "--interval", type=non_negative(float), help="idle poll interval in seconds"
        )
        parser.add_argument("--batch-size", type=positive(int), help="rows locked per transaction")
        parser.add_argument("--exchange", help="RabbitMQ exchange (default: settings)")
        parser.add_argument("--stream-prefix", help="Redis stream/channel prefix")
        parser.add_argument(
            "--purge-sent-days",
            type=non_negative(float),
            help="first delete rows sent more than this many days ago",
        )
        add_metrics_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        backend = options["bus"] or ms_settings.EVENT_BUS["BACKEND"]
        if backend == "memory" and not ms_settings.EVENT_BUS["ALLOW_MEMORY_BUS"]:
            raise CommandError(
                "refusing to relay to the in-memory bus: its events never leave this process, "
                "yet the rows would be marked sent. Configure rabbitmq or redis, or set "
                "INTERLINK['EVENT_BUS']['ALLOW_MEMORY_BUS'] where one process publishes and "
                "consumes."
            )
        overrides = {
            key: value
            for key, value in {
                "RABBITMQ_EXCHANGE": options["exchange"],
                "REDIS_STREAM_PREFIX": options["stream_prefix"],
            }.items()
            if value
        }
        if options["purge_sent_days"] is not None:
            purged = outbox_purge_sent(older_than=timedelta(days=options["purge_sent_days"]))
            self.stdout.write(f"purged {purged} sent row(s)")
        endpoint = metrics_endpoint(options, self.stdout.write)
        try:
            bus = build_bus(options["bus"], **overrides)
        except ValueError as exc:  # a backend without its URL
            endpoint.close()
            raise CommandError(str(exc)) from exc
        try:
            if options["once"]:
                try:
                    result = outbox_relay(bus=bus, batch_size=options["batch_size"])
                except BusUnavailable as exc:
                    raise CommandError(f"broker unavailable: {exc}") from exc
            else:
                with stop_on_signals(logger, "the current batch") as stop:
                    result = outbox_relay_loop(
                        bus=bus,
                        stop=stop,
                        interval=options["interval"],
                        batch_size=options["batch_size"],
                        housekeeping=RetentionSchedule(bus=bus).run_if_due,
                    )
        finally:
            endpoint.close()
            bus.close()
        self.stdout.write(
            f"sent {result.sent}, refused {result.refused}, nacked (pending) {result.declined}"
        )
