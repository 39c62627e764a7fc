"""The primary/standby pair as two local servers: initdb, then `pg_basebackup -R -X stream -c
fast` of the primary, each server in a work dir of its own."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from pathlib import Path

from ..endpoint import ServerStartError
from ..postgres import initdb_argv, local_binaries, runner, url_for, write_pwfile
from ..process import free_ports, make_workdir, remove_workdir, tail_file
from .model import StandbyPair, cluster_url

#: both servers: loopback only, speed over durability (the tests kill processes, not the host,
#: and the kernel keeps what a killed process wrote)
COMMON = "-c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"


def _postmaster_pid(data: Path) -> int:
    return int((data / "postmaster.pid").read_text().split()[0])


def _walreceiver_pid(standby_url: str) -> int:
    import psycopg

    with psycopg.connect(standby_url, autocommit=True, connect_timeout=3) as conn:
        row = conn.execute("SELECT pid FROM pg_stat_wal_receiver").fetchone()
    if row is None:
        raise ServerStartError("the standby has no WAL receiver: it is not streaming")
    return int(row[0])


def as_processes(*, synchronous: bool) -> StandbyPair:
    """Primary and standby as local servers on free ports, each in a work dir of its own."""
    bindir, owner, prefix = local_binaries()
    pg_ctl = str(bindir / "pg_ctl")
    primary_dir = make_workdir("pg-primary", owner=owner)
    standby_dir = make_workdir("pg-standby", owner=owner)
    primary_data, standby_data = primary_dir / "data", standby_dir / "data"
    port, standby_port = free_ports(2)
    password = secrets.token_hex(8)
    pwfile = write_pwfile(primary_dir, password, owner)
    run = runner(prefix, primary_dir)
    # '*': the first standby that connects is the synchronous one. On the command line, not in
    # postgresql.auto.conf, which pg_basebackup copies: a promoted standby would inherit it and
    # wait forever for a standby of its own (NOTES.md). The standby clears it all the same.
    sync = f"-c synchronous_standby_names='{'*' if synchronous else ''}'"
    primary_options = f"-p {port} -k {primary_dir} {COMMON} {sync}"
    standby_options = f"-p {standby_port} -k {standby_dir} {COMMON} -c synchronous_standby_names=''"
    closed: list[bool] = []

    def pg_ctl_start(data: Path, workdir: Path, options: str) -> None:
        log = workdir / "server.log"
        run(pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")

    def stop_primary_hard() -> None:
        # immediate: the postmaster SIGQUITs every backend, nothing is flushed or checkpointed
        run(pg_ctl, "-D", str(primary_data), "-m", "immediate", "-w", "-t", "30", "stop")

    def promote_standby() -> None:
        run(pg_ctl, "-D", str(standby_data), "-w", "-t", "60", "promote")

    standby_url = url_for("127.0.0.1", standby_port, "postgres", password, "postgres")
    held: list[int] = []  # WAL receivers stopped, to let go at close whatever happened

    def hold_receiver(hold: bool) -> None:
        pid = _walreceiver_pid(standby_url) if hold else held.pop()
        if hold:
            held.append(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP if hold else signal.SIGCONT)

    def close() -> None:
        if closed:
            return
        closed.append(True)
        for pid in held:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        for data in (standby_data, primary_data):
            with contextlib.suppress(OSError, ValueError, ProcessLookupError):
                os.kill(_postmaster_pid(data), signal.SIGQUIT)  # immediate: throw-away data
        for data in (standby_data, primary_data):
            with contextlib.suppress(OSError, ValueError):
                deadline = time.monotonic() + 10
                while os.path.exists(data / "postmaster.pid") and time.monotonic() < deadline:
                    time.sleep(0.05)
        remove_workdir(primary_dir)
        remove_workdir(standby_dir)

    def log_tail(lines: int) -> str:
        return "\n".join(
            f"--- {name} ---\n{tail_file(workdir / 'server.log', lines)}"
            for name, workdir in (("primary", primary_dir), ("standby", standby_dir))
        )

    try:
        run(*initdb_argv(bindir, primary_data, pwfile))
        pg_ctl_start(primary_data, primary_dir, primary_options)
        conninfo = f"host=127.0.0.1 port={port} user=postgres password={password}"
        standby_run = runner(prefix, standby_dir)
        standby_run(
            str(bindir / "pg_basebackup"),
            "-d",
            conninfo,
            "-D",
            str(standby_data),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
        )
        pg_ctl_start(standby_data, standby_dir, standby_options)
        pair = StandbyPair(
            url=cluster_url(
                [("127.0.0.1", port), ("127.0.0.1", standby_port)], "postgres", password, "postgres"
            ),
            primary_url=url_for("127.0.0.1", port, "postgres", password, "postgres"),
            standby_url=standby_url,
            synchronous=synchronous,
            source="process",
            stop_primary_hard=stop_primary_hard,
            promote_standby=promote_standby,
            hold_receiver=hold_receiver,
            close=close,
            log_tail=log_tail,
        )
        _wait_streaming(pair)
    except Exception as exc:
        text = log_tail(30)
        close()
        raise ServerStartError(f"postgres pair: {exc}\n{text}") from exc
    return pair


def _wait_streaming(pair: StandbyPair, timeout: float = 30) -> None:
    """Until the primary sees its standby streaming (and, if synchronous, as `sync`)."""
    import psycopg

    wanted = "sync" if pair.synchronous else "async"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(pair.primary_url, autocommit=True, connect_timeout=3) as conn:
            row = conn.execute(
                "SELECT state, sync_state FROM pg_stat_replication LIMIT 1"
            ).fetchone()
        if row == ("streaming", wanted):
            return
        time.sleep(0.05)
    raise ServerStartError(f"the standby is not streaming ({wanted}) after {timeout:.0f} s")
