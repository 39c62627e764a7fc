"""Small helpers for the pure ASGI middlewares: headers, buffered bodies, captured responses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def header(scope: Scope, name: str) -> str | None:
    """The first value of a request header (name is case-insensitive), decoded as latin-1."""
    wanted = name.lower().encode("latin-1")
    for key, value in scope.get("headers", ()):
        if key.lower() == wanted:
            return bytes(value).decode("latin-1")
    return None


async def read_body(receive: Receive) -> tuple[bytes, bool]:
    """Read the whole request body; the flag says whether the client went away meanwhile."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def replay_receive(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands out an already-read body once, then defers to the real one."""
    sent = False

    async def _receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return _receive


@dataclass
class CapturedResponse:
    """A whole ASGI response held in memory."""

    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode("latin-1")
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None

    def with_body(self, body: bytes) -> CapturedResponse:
        """A copy with another body and a matching Content-Length."""
        headers = [(k, v) for k, v in self.headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode("ascii")))
        return CapturedResponse(self.status, headers, body)

    async def send_to(
        self, send: Send, *, extra_headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [*self.headers, *extra_headers],
            }
        )
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


async def capture(app: ASGIApp, scope: Scope, receive: Receive) -> CapturedResponse:
    """Run `app` and keep its response instead of sending it."""
    captured = CapturedResponse()
    chunks: list[bytes] = []

    async def _send(message: Message) -> None:
        if message["type"] == "http.response.start":
            captured.status = int(message["status"])
            captured.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", ())]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, _send)
    captured.body = b"".join(chunks)
    return captured


# Set by mock_services.common.server's uvicorn protocol: a callable closing the TCP connection.
CLOSE_CONNECTION_EXTENSION = "mock_services.close_connection"
