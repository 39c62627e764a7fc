"""Embedded defaults or the real stack, then `django.setup()`: the one demo module imported
before Django is set up.

The real stack's servers come as the integration tests get theirs (integration_tests/servers:
an address in the environment, else Docker, else local processes on free ports).
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import django

from integration_tests.servers import ServerStartError, ServerUnavailable, provide
from integration_tests.servers.postgres import drop_database, fresh_database

StackName = Literal["embedded", "real"]
STACKS: tuple[StackName, ...] = ("embedded", "real")


@dataclass(frozen=True)
class Bootstrapped:
    """What the harness needs to know of the set-up: the stack, and the real stack's parts."""

    stack: StackName
    run_id: str
    mail_dir: Path
    #: server name -> where it came from (env, docker, process)
    servers: dict[str, str]


def stack_from_argv(argv: Sequence[str]) -> StackName:
    """`--stack real` (or `--stack=real`) among the arguments; the parser proper checks them."""
    for n, arg in enumerate(argv):
        value = argv[n + 1] if arg == "--stack" and n + 1 < len(argv) else None
        if arg.startswith("--stack="):
            value = arg.split("=", 1)[1]
        if value == "real":
            return "real"
    return "embedded"


def setup_django(stack: StackName = "embedded") -> Bootstrapped:
    """Set Django up on embedded defaults (a SQLite file in a temp dir removed at exit), or on
    PostgreSQL and RabbitMQ provisioned for this run and torn down at exit."""
    workdir = Path(tempfile.mkdtemp(prefix="interlink-demo-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    run_id = secrets.token_hex(4)
    mail_dir = workdir / "mail"
    mail_dir.mkdir()
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(32))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    servers: dict[str, str] = {}
    if stack == "real":
        try:
            servers = _real_stack(run_id, mail_dir)
        except (ServerUnavailable, ServerStartError) as exc:
            raise SystemExit(f"python -m project.demo --stack real: {exc}") from exc
    else:
        _embedded(workdir)
    django.setup()
    return Bootstrapped(stack=stack, run_id=run_id, mail_dir=mail_dir, servers=servers)


def _embedded(workdir: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.base")
    # Embedded defaults whatever the shell says: a throwaway SQLite file and secret.
    os.environ["SQLITE_PATH"] = str(workdir / "demo.sqlite3")
    os.environ.pop("DATABASE_URL", None)
    os.environ["EVENT_BUS_BACKEND"] = "memory"
    # The demo publishes and consumes in this one process: the memory bus is meant here.
    os.environ["EVENT_BUS_ALLOW_MEMORY_BUS"] = "1"
    # Mail stays in memory (the scenes print subjects), never on the console or an SMTP server.
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"


def _real_stack(run_id: str, mail_dir: Path) -> dict[str, str]:
    """PostgreSQL (a database of this run's own) and RabbitMQ (an exchange of its own), their
    addresses in the environment that this process and the ones it starts read."""
    postgres = provide("postgres")
    atexit.register(postgres.close)
    rabbitmq = provide("rabbitmq")
    atexit.register(rabbitmq.close)
    database = fresh_database(postgres.endpoint.url, f"demo_{run_id}")
    # atexit runs last-registered first: the database goes before its server.
    atexit.register(drop_database, postgres.endpoint.url, database)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "project.settings.demo_real",
            "DATABASE_URL": database,
            "RABBITMQ_URL": rabbitmq.endpoint.url,
            "EVENT_BUS_BACKEND": "rabbitmq",
            "DEMO_RABBITMQ_EXCHANGE": f"demo-{run_id}",
            "DEMO_MAIL_DIR": str(mail_dir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    os.environ.pop("EVENT_BUS_ALLOW_MEMORY_BUS", None)
    return {"postgres": postgres.endpoint.source, "rabbitmq": rabbitmq.endpoint.source}
