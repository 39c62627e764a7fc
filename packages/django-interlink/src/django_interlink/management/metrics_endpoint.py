"""`--metrics-port` of the long-running commands: their counters served while they run (and
pushed through OTLP when OTEL_METRICS_EXPORTER says otlp: metrics/otlp.py).

    manage.py relay_outbox --metrics-port 9108 --metrics-address 0.0.0.0
    manage.py consume_events --metrics-port 9109

Each worker process is a Prometheus target of its own (metrics/exposition.py says why); the
endpoint wants INTERLINK['HEALTH']['TOKEN'] as a bearer token, and the command refuses to
start it without one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError, CommandParser
from opentelemetry.sdk.metrics import MeterProvider

from ..conf import ms_settings
from ..metrics.exposition import MetricsServer
from ..metrics.otlp import start_otlp_export
from .arguments import non_negative


def add_metrics_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "--metrics-port",
        type=non_negative(int),
        help="serve this process's metrics for Prometheus on this port (0: any free one)",
    )
    parser.add_argument(
        "--metrics-address",
        default="127.0.0.1",
        help="address the metrics endpoint listens on (default 127.0.0.1)",
    )


class MetricsExport:
    """What this process exports its counters through: an endpoint, OTLP, both or neither."""

    def __init__(self, server: MetricsServer | None, otlp: MeterProvider | None) -> None:
        self.server = server
        self.otlp = otlp

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        if self.otlp is not None:
            self.otlp.shutdown()  # exports what was counted since the last push


def metrics_endpoint(options: dict[str, Any], write: Callable[[str], Any]) -> MetricsExport:
    """The endpoint --metrics-port asks for and the OTLP export the environment asks for,
    running until closed; `write` says where the endpoint listens."""
    port = options.get("metrics_port")
    server = None
    if port is not None:
        address = str(options.get("metrics_address") or "127.0.0.1")
        token = str(ms_settings.HEALTH["TOKEN"])
        try:
            server = MetricsServer(port=int(port), address=address, token=token)
        except (ValueError, OSError) as exc:  # no token; the port taken or not ours to bind
            raise CommandError(f"--metrics-port: {exc}") from exc
        write(f"metrics at http://{address}:{server.port}/metrics")
    return MetricsExport(server, start_otlp_export())
