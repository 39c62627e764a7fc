"""Sockets that fail in the ways the transport tells apart, and the scripted service.

- `closed_port`: nothing listens, so every connect is refused (the request never leaves);
- `unanswered_port`: a full accept queue, so every connect times out (never leaves either);
- `silent_port`: accepted and read, never answered (the request arrived, the answer did not);
- `scripted` and `scripted_client`: a service answering what the stubs cannot (scripted.py).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest
from django.test import override_settings

from django_interlink.clients.base import ServiceClient
from django_interlink.clients.testing import services_settings_for

from .scripted import ScriptedServer, scripted_server


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A listening socket whose accept queue is full: connects to it time out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(server.getsockname())
        fillers.append(filler)
    yield server.getsockname()[1]
    for sock in [*fillers, server]:
        sock.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A server that accepts connections and reads, and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                accepted.append(server.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for sock in accepted:
        sock.close()


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with scripted_server() as server:
        yield server


@pytest.fixture
def scripted_client(scripted: ScriptedServer) -> Iterator[ServiceClient]:
    """A client of the scripted service (contract validation off: it has no contract), with
    the stubs' fast retry settings."""
    conf = services_settings_for({"scripted": scripted.url}, "token", validation="off")
    with override_settings(INTERLINK=conf), ServiceClient("scripted") as client:
        yield client
