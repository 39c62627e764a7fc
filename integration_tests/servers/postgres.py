"""PostgreSQL: from DATABASE_URL, a testcontainers container, or initdb + pg_ctl in a temp dir."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from .base import (
    CallbackController,
    Endpoint,
    Provisioned,
    ServerStartError,
    ServerUnavailable,
    container_controller,
    container_log_tail,
    free_ports,
    make_workdir,
    remove_workdir,
    tail_file,
)

ENV = "DATABASE_URL"
IMAGE = os.environ.get("POSTGRES_IMAGE", "postgres:15-alpine")
HOW_TO = (
    "set DATABASE_URL=postgresql://user:pass@host:5432/db (e.g. after "
    "`docker compose -f docker-compose.test.yml up -d postgres`), start a Docker engine "
    "(testcontainers), or install the Debian package postgresql"
)


def url_for(host: str, port: int, user: str, password: str, dbname: str) -> str:
    return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{dbname}"


def can_query(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def from_env() -> Provisioned | None:
    url = os.environ.get(ENV)
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ServerStartError(f"{ENV} must be a postgresql:// URL, got scheme {parts.scheme!r}")
    endpoint = Endpoint(
        name="postgres",
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        url=url,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        source="env",
    )
    if not can_query(url):
        raise ServerStartError(
            f"{ENV} is set but no PostgreSQL answers at {endpoint.host}:{endpoint.port}"
        )
    return Provisioned(endpoint)


def in_docker() -> Provisioned:
    from testcontainers.community.postgres import PostgresContainer

    (host_port,) = free_ports(1)
    password = secrets.token_hex(8)
    container = PostgresContainer(
        IMAGE, username="test", password=password, dbname="test", driver=None
    )
    container.with_bind_ports(5432, host_port)
    container.with_command("postgres -c fsync=off -c full_page_writes=off")
    started = time.monotonic()
    container.start()
    startup = time.monotonic() - started
    host = container.get_container_host_ip()
    url = url_for(host, host_port, "test", password, "test")
    endpoint = Endpoint(
        name="postgres",
        host=host,
        port=host_port,
        url=url,
        username="test",
        password=password,
        source="docker",
        controller=container_controller(container, lambda: can_query(url), "postgres container"),
        startup_seconds=startup,
        log_tail=container_log_tail(container),
    )
    return Provisioned(endpoint, close=container.stop)


def _bindir() -> Path | None:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def as_process() -> Provisioned:
    bindir = _bindir()
    if bindir is None:
        raise ServerUnavailable(f"PostgreSQL unavailable (no initdb binary): {HOW_TO}")
    # initdb and pg_ctl refuse to run as root: run them as the postgres user then
    owner: str | None = None
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise ServerUnavailable(
                f"PostgreSQL unavailable (running as root and no 'postgres' user): {HOW_TO}"
            ) from None
        owner = "postgres"
        prefix = ["runuser", "-u", "postgres", "--"]

    workdir = make_workdir("pg", owner=owner)
    data = workdir / "data"
    log = workdir / "server.log"
    (port,) = free_ports(1)
    password = secrets.token_hex(8)
    pwfile = workdir / "pwfile"
    pwfile.write_text(password + "\n")
    if owner:
        shutil.chown(pwfile, user=owner, group=None)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}

    def run(*argv: str, timeout: float = 120) -> None:
        result = subprocess.run(
            [*prefix, *argv],
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise ServerStartError(
                f"{Path(argv[0]).name} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-800:]}"
            )

    options = (
        f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )

    def start() -> None:
        run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop() -> None:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop")

    def close() -> None:
        try:
            stop()
        except Exception:
            pidfile = data / "postmaster.pid"
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGQUIT)
                time.sleep(0.5)
        remove_workdir(workdir)

    started = time.monotonic()
    try:
        run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "--no-sync",
            "-U",
            "postgres",
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        start()
    except Exception as exc:
        text = tail_file(log, 40)
        close()
        raise ServerStartError(f"{exc}\n--- postgres log ---\n{text}") from exc
    endpoint = Endpoint(
        name="postgres",
        host="127.0.0.1",
        port=port,
        url=url_for("127.0.0.1", port, "postgres", password, "postgres"),
        username="postgres",
        password=password,
        source="process",
        controller=CallbackController(stop, start),
        startup_seconds=time.monotonic() - started,
        log_tail=lambda lines: tail_file(log, lines),
    )
    return Provisioned(endpoint, close=close)
