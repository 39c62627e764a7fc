"""Serving the metrics: the web process's /metrics (views.py) and a worker's own endpoint.

Prometheus scrapes each process: the web process's /metrics carries its counters and the state
read from the database and the broker (state.py); `relay_outbox --metrics-port` and
`consume_events --metrics-port` serve their own counters from a small HTTP server in the
process, so each worker is a scrape target of its own (with its own `up` series), wherever it
runs. Every endpoint wants INTERLINK['HEALTH']['TOKEN'] as a bearer token.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import ThreadingWSGIServer, choose_encoder, make_wsgi_app
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from .instruments import REGISTRY
from .state import STATE

__all__ = ["REALM", "MetricsServer", "bearer_matches", "render", "web_registry"]

logger = logging.getLogger("django_interlink.metrics")

REALM = 'Bearer realm="metrics"'
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
StartResponse = Callable[..., Any]


def bearer_matches(authorization: str, token: str) -> bool:
    """Whether an Authorization header carries `token` ("" never matches), in constant time."""
    return bool(token) and hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode())


class _Both(Collector):
    def __init__(self, *collectors: Collector) -> None:
        self.collectors = collectors

    def collect(self) -> Iterable[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def web_registry() -> CollectorRegistry:
    """The web process's view: its counters, and the database's and broker's state.

    Under a server that forks several web processes, set PROMETHEUS_MULTIPROC_DIR (an empty
    directory, wiped at each start): every process then writes its counters there and
    /metrics sums them all, whichever process answers.
    """
    counters: Collector = REGISTRY
    if os.environ.get(MULTIPROC_DIR):
        counters = CollectorRegistry()
        MultiProcessCollector(counters)  # type: ignore[no-untyped-call]
    registry = CollectorRegistry(auto_describe=False)
    # The state first: a source that fails counts its scrape error into REGISTRY, in this scrape
    registry.register(_Both(STATE, counters))
    return registry


def render(accept: str | None) -> tuple[bytes, str]:
    """The web process's metrics in the format `accept` asks for (text or OpenMetrics)."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(web_registry()), content_type


def _guarded(app: Callable[..., Iterable[bytes]], token: str) -> Callable[..., Iterable[bytes]]:
    def guarded(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not bearer_matches(str(environ.get("HTTP_AUTHORIZATION", "")), token):
            start_response(
                "401 Unauthorized",
                [("WWW-Authenticate", REALM), ("Content-Type", "text/plain; charset=utf-8")],
            )
            return [b"metrics need INTERLINK['HEALTH']['TOKEN'] as a bearer token\n"]
        return app(environ, start_response)

    return guarded


class _Quiet(WSGIRequestHandler):
    """No access log line on stderr per scrape."""

    def log_message(self, format: str, *args: Any) -> None:
        return None


class MetricsServer:
    """This process's counters at http://address:port/ (any path) behind `token`, served by a
    daemon thread until `close()`. ValueError without a token; OSError if it cannot bind."""

    def __init__(self, *, port: int, address: str, token: str) -> None:
        if not token:
            raise ValueError(
                "a worker's metrics endpoint needs INTERLINK['HEALTH']['TOKEN']: Prometheus "
                "sends it as a bearer token (authorization.credentials in its scrape config)"
            )
        self._server = make_server(
            address,
            port,
            _guarded(make_wsgi_app(REGISTRY), token),
            ThreadingWSGIServer,
            handler_class=_Quiet,
        )
        self.address = address
        self.port = int(self._server.server_address[1])  # port 0 picks a free one
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-http", daemon=True
        )
        self._thread.start()
        logger.info("metrics served at http://%s:%d/metrics", address, self.port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
