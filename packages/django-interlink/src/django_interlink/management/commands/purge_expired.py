"""`manage.py purge_expired`: delete what is past its retention, once (cron, or by hand).

Sent outbox rows, inbox rows, expired Idempotency-Keys, ended rate-limit windows and finished
sagas with their step logs, after INTERLINK['RETENTION']; with the Redis Streams bus, the
streams are trimmed to what their groups still need. `relay_outbox` runs the same purge every
RETENTION['INTERVAL'] seconds, so this is needed only where no relay runs.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_interlink.conf import ms_settings
from django_interlink.events.backends import BACKENDS, build_bus
from django_interlink.exceptions import BusUnavailable
from django_interlink.retention.purge import retention_purge


class Command(BaseCommand):
    help = "Delete rows and stream entries past their retention (INTERLINK['RETENTION'])."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bus", choices=BACKENDS, help="backend (default: EVENT_BUS)")
        parser.add_argument("--stream-prefix", help="Redis stream prefix (default: settings)")

    def handle(self, *args: Any, **options: Any) -> None:
        backend = options["bus"] or ms_settings.EVENT_BUS["BACKEND"]
        overrides = (
            {"REDIS_STREAM_PREFIX": options["stream_prefix"]} if options["stream_prefix"] else {}
        )
        # Only Redis Streams keep what consumers acknowledged; other brokers delete it themselves.
        try:
            bus = build_bus(backend, **overrides) if backend == "redis" else None
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            counts = retention_purge(bus=bus)
        except BusUnavailable as exc:
            raise CommandError(f"broker unavailable: {exc}") from exc
        finally:
            if bus is not None:
                bus.close()
        for kind, count in counts.items():
            self.stdout.write(f"{kind}: {count}")
