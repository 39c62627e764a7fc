"""`--metrics-port` of the long-running commands: their counters served while they run.

    manage.py relay_outbox --metrics-port 9108 --metrics-address 0.0.0.0
    manage.py consume_events --metrics-port 9109

Each worker process is a Prometheus target of its own (metrics/exposition.py says why); the
endpoint wants MICROSERVICES['HEALTH']['TOKEN'] as a bearer token, and the command refuses to
start it without one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError, CommandParser

from ..conf import ms_settings
from ..metrics.exposition import MetricsServer
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


class _NotServed:
    def close(self) -> None:
        return None


def metrics_endpoint(
    options: dict[str, Any], write: Callable[[str], Any]
) -> MetricsServer | _NotServed:
    """The endpoint --metrics-port asks for, serving until closed (without it: nothing to
    close); `write` says where it listens."""
    port = options.get("metrics_port")
    if port is None:
        return _NotServed()
    address = str(options.get("metrics_address") or "127.0.0.1")
    try:
        server = MetricsServer(
            port=int(port), address=address, token=str(ms_settings.HEALTH["TOKEN"])
        )
    except (ValueError, OSError) as exc:  # no token; the port taken or not ours to bind
        raise CommandError(f"--metrics-port: {exc}") from exc
    write(f"metrics at http://{address}:{server.port}/metrics")
    return server
