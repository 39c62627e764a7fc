"""Running a stub under uvicorn, with a protocol that lets a fault close the connection silently.

uvicorn answers 500 when an app raises before responding, so "no response at all" needs the
transport: this H11Protocol subclass puts a `close()` callable in `scope["extensions"]`.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from mock_services.common.asgi import CLOSE_CONNECTION_EXTENSION


class DroppableH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus a scope extension closing this connection without a response."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner = self.app

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            scope.setdefault("extensions", {})[CLOSE_CONNECTION_EXTENSION] = self._close_now
            await inner(scope, receive, send)

        self.app = app

    def _close_now(self) -> None:
        # Nothing has been written for this request, so the peer reads EOF where the status
        # line should be (http.client: RemoteDisconnected).
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


def uvicorn_config(
    app: FastAPI, *, host: str, port: int, log_level: str = "warning"
) -> uvicorn.Config:
    """The one uvicorn configuration the stubs run with (tests and `python -m mock_services`)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=DroppableH11Protocol,
        lifespan="on",
        log_level=log_level,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=2,
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket bound now, so the (possibly ephemeral) port is known before start."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this; without it Nagle's algorithm holds each keep-alive
    # response back until the client's delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock
