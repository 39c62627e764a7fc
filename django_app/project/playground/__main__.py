"""`python -m project.playground` (`make playground`): start everything, print the URL and login.

Ctrl-C (or SIGTERM) stops the server, the relay and consumer, the worker and the stubs, and
removes the playground's folder (its SQLite file with it).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from project.playground.bootstrap import prepare


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m project.playground", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument(
        "--info-file",
        type=Path,
        help="also write the URL, login, stub URLs and token here as JSON (mode 0600; tests)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()  # only set: the main thread does the stopping

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, request_stop)
    prepared = prepare()
    # Django is set up now: the launcher imports models.
    from project.playground.files import write_json
    from project.playground.launcher import start

    running = start(prepared, host=args.host, port=args.port)
    try:
        if args.info_file is not None:
            write_json(args.info_file, running.info())
        print(
            f"Playground: {running.url}\n"
            f"Log in as {running.username} with password {running.password}\n"
            "(Ctrl-C stops it)",
            flush=True,
        )
        stop.wait()
    finally:
        running.stop()
    print("Playground stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
