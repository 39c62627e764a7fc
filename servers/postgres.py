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
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from .containers import run_container
from .endpoint import Provisioned, ServerStartError, ServerUnavailable
from .environment import from_env_url
from .process import free_ports, make_workdir, process_env, remove_workdir, start_local_server

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


def fresh_database(server_url: str, name: str) -> str:
    """Create an empty database `name` on the server (replacing one left by an earlier run);
    returns its URL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


def drop_database(server_url: str, db_url: str) -> None:
    """Drop the database of `db_url` (made by fresh_database), closing its connections."""
    import psycopg

    name = db_url.rsplit("/", 1)[-1]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def from_env() -> Provisioned | None:
    url = os.environ.get(ENV)
    if url and (scheme := urlsplit(url).scheme) not in {"postgres", "postgresql"}:
        raise ServerStartError(f"{ENV} must be a postgresql:// URL, got scheme {scheme!r}")
    return from_env_url(
        "postgres",
        ENV,
        default_port=5432,
        ready=can_query,
        unreachable="no PostgreSQL answers at {host}:{port}",
    )


def in_docker() -> Provisioned:
    from testcontainers.community.postgres import PostgresContainer

    (port,) = free_ports(1)
    password = secrets.token_hex(8)
    container = PostgresContainer(
        IMAGE, username="test", password=password, dbname="test", driver=None
    )
    container.with_command("postgres -c fsync=off -c full_page_writes=off")
    return run_container(
        "postgres",
        container,
        port=port,
        container_port=5432,
        url=lambda host: url_for(host, port, "test", password, "test"),
        ready=can_query,
        username="test",
        password=password,
    )


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


def local_binaries() -> tuple[Path, str | None, list[str]]:
    """PostgreSQL's bin dir, and the user (with the argv prefix) its tools must run as:
    initdb and pg_ctl refuse root, so as root they run as `postgres`."""
    bindir = _bindir()
    if bindir is None:
        raise ServerUnavailable(f"PostgreSQL unavailable (no initdb binary): {HOW_TO}")
    if os.geteuid() != 0:
        return bindir, None, []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ServerUnavailable(
            f"PostgreSQL unavailable (running as root and no 'postgres' user): {HOW_TO}"
        ) from None
    return bindir, "postgres", ["runuser", "-u", "postgres", "--"]


def write_pwfile(workdir: Path, password: str, owner: str | None) -> Path:
    pwfile = workdir / "pwfile"
    pwfile.write_text(password + "\n")
    if owner:
        shutil.chown(pwfile, user=owner, group=None)
    return pwfile


def runner(prefix: list[str], workdir: Path) -> Callable[..., None]:
    """run(*argv, timeout=120): a PostgreSQL tool as the server's user; ServerStartError with
    its output when it fails."""
    env = process_env(LANG="C.UTF-8", LC_ALL="C.UTF-8")

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

    return run


def initdb_argv(bindir: Path, data: Path, pwfile: Path) -> list[str]:
    return [
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
    ]


def as_process(*, durable: bool = False) -> Provisioned:
    """PostgreSQL as a local process on a free port. The tests' server trades durability for
    speed (fsync, synchronous_commit, full_page_writes off); `durable=True` keeps PostgreSQL's
    own defaults (all on), for figures that must say what a commit promises."""
    bindir, owner, prefix = local_binaries()
    workdir = make_workdir("pg", owner=owner)
    data = workdir / "data"
    log = workdir / "server.log"
    (port,) = free_ports(1)
    password = secrets.token_hex(8)
    pwfile = write_pwfile(workdir, password, owner)
    run = runner(prefix, workdir)

    durability = "on" if durable else "off"
    options = (
        f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync={durability} "
        f"-c synchronous_commit={durability} -c full_page_writes={durability}"
    )

    pg_ctl = str(bindir / "pg_ctl")

    def start() -> None:
        run(pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")

    def stop() -> None:
        run(pg_ctl, "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop")

    def close() -> None:
        try:
            stop()
        except Exception:
            pidfile = data / "postmaster.pid"
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGQUIT)
                time.sleep(0.5)
        remove_workdir(workdir)

    def first_start() -> None:
        run(*initdb_argv(bindir, data, pwfile))
        start()

    return start_local_server(
        "postgres",
        port=port,
        url=url_for("127.0.0.1", port, "postgres", password, "postgres"),
        log=log,
        start=start,
        stop=stop,
        close=close,
        first_start=first_start,
        username="postgres",
        password=password,
    )
