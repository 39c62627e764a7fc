"""`python -m mock_services`: run the four stubs (or some) under uvicorn until Ctrl+C.

The bearer token comes from MOCK_SERVICES_TOKEN only (never a flag, never printed); host and
ports from MOCK_SERVICES_HOST / MOCK_SERVICES_<SERVICE>_PORT or the flags below.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Iterator, Sequence

import uvicorn
from pydantic import ValidationError

from mock_services.common import SERVICE_NAMES, StubSettings, create_app
from mock_services.common.server import bind_socket, uvicorn_config
from mock_services.common.tracing import tracing_setup


class _Server(uvicorn.Server):
    """uvicorn.Server without its own signal handling: main() stops all servers together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mock_services",
        description="Run the stub services. The token is read from MOCK_SERVICES_TOKEN.",
    )
    parser.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    for service in SERVICE_NAMES:
        parser.add_argument(f"--{service}-port", type=int, metavar="PORT", dest=f"{service}_port")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SERVICE_NAMES,
        metavar="SERVICE",
        help=f"run only these services ({', '.join(SERVICE_NAMES)})",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn's (default warning)")
    return parser


def load_settings(args: argparse.Namespace) -> StubSettings:
    """Environment first, flags override; raises ValidationError without a token."""
    overrides = {
        key: value
        for key, value in vars(args).items()
        if value is not None and (key == "host" or key.endswith("_port"))
    }
    return StubSettings(**overrides)


async def _serve(servers: list[tuple[uvicorn.Server, socket.socket]]) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server, _ in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in servers))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args)
    except ValidationError as exc:
        missing_token = any(error["loc"] == ("token",) for error in exc.errors())
        if missing_token:
            print("MOCK_SERVICES_TOKEN must be set to a non-empty token.", file=sys.stderr)
        else:
            print(f"Invalid settings: {exc}", file=sys.stderr)
        return 2
    token = settings.token.get_secret_value()
    try:
        tracing_setup()
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    servers: list[tuple[uvicorn.Server, socket.socket]] = []
    for service in args.only or SERVICE_NAMES:
        port = settings.port_for(service)
        try:
            sock = bind_socket(settings.host, port)
        except OSError as exc:
            print(f"Cannot listen on {settings.host}:{port} for {service}: {exc}", file=sys.stderr)
            for _, bound in servers:
                bound.close()
            return 1
        port = sock.getsockname()[1]
        app = create_app(service, token=token)
        config = uvicorn_config(app, host=settings.host, port=port, log_level=args.log_level)
        servers.append((_Server(config), sock))
        print(f"{service:<10} http://{settings.host}:{port}", flush=True)
    print("Bearer token: from MOCK_SERVICES_TOKEN. Ctrl+C stops.", flush=True)
    asyncio.run(_serve(servers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
