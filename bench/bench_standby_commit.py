"""What does a synchronous standby cost a commit, against an asynchronous one?

Two primary/standby pairs as local servers (servers/postgres_standby/),
alike but for `synchronous_standby_names`: one client commits one outbox-sized row per
transaction on each primary in turn. A synchronous commit returns once the standby has the WAL
too; an asynchronous one once the primary has it. Both pairs have fsync off and share this
host, so the ratio is the replication protocol's round trip, not a network's or a disk's:
across machines the gap widens by the network's round trip.

    .venv/bin/python bench/bench_standby_commit.py [--commits 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
import time
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "django_app"), str(REPO)]

import psycopg  # noqa: E402

from bench.support import Ratio, report, take_turns  # noqa: E402
from bench.support import write_results as write  # noqa: E402
from servers.postgres_standby import as_processes  # noqa: E402

ROW_BYTES = 1024  # about an order.created envelope


def measure(conn: psycopg.Connection[tuple[int, str]], commits: int) -> float:
    """Commits per second: `commits` single-row transactions, each waited for."""
    payloads = [secrets.token_hex(ROW_BYTES // 2) for _ in range(commits)]
    conn.execute("TRUNCATE rows")
    started = time.perf_counter()
    for payload in payloads:
        conn.execute("INSERT INTO rows (payload) VALUES (%s)", (payload,))
    return commits / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        connections: dict[str, psycopg.Connection[tuple[int, str]]] = {}
        for key, synchronous in (("asynchronous", False), ("synchronous", True)):
            pair = as_processes(synchronous=synchronous)
            stack.callback(pair.close)
            conn = stack.enter_context(psycopg.connect(pair.primary_url, autocommit=True))
            conn.execute("CREATE TABLE rows (id bigserial PRIMARY KEY, payload text)")
            connections[key] = conn
        title = "PostgreSQL commit, one row per transaction, standby on the same host, fsync off"
        runs = take_turns(
            {key: partial(measure, conn, args.commits) for key, conn in connections.items()},
            args.rounds,
            "commits",
        )
        section = report(
            title,
            {
                "asynchronous": "asynchronous standby (commit on the primary)",
                "synchronous": "synchronous standby (commit on both)",
            },
            runs,
            [Ratio("synchronous / asynchronous commits per second", "synchronous", "asynchronous")],
            commits_per_run=args.commits,
            row_bytes=ROW_BYTES,
        )
    write("standby_commit", {"rounds": args.rounds, "postgres": section})


if __name__ == "__main__":
    main()
