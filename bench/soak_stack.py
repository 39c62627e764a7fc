"""The soak's stack: PostgreSQL and the broker as the integration tests get them, the four stubs
and the Django processes as real subprocesses (each with its own pid, so its memory can be read),
and the shop's data the load needs (a user, products with stock for the whole run, tokens).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

from integration_tests.servers import provide
from integration_tests.servers.postgres import drop_database, fresh_database
from integration_tests.servers.process import free_ports
from mock_services.common.app import SERVICE_NAMES
from mock_services.waiting import wait_until

REPO = Path(__file__).resolve().parent.parent
MANAGE_PY = REPO / "django_app" / "manage.py"
SETTINGS_MODULE = "bench.soak_settings"
SHOP_HANDLERS = "shop.handlers"
SINK_HANDLERS = "bench.soak_sink"
# Each order takes one unit of each: stock for a million orders, so none fails for want of it.
STOCK = 1_000_000


@dataclass
class Process:
    """One process of the stack, its output in a log file of the run's work dir."""

    name: str
    popen: subprocess.Popen[bytes]
    log: IO[bytes]
    #: False for the stubs: they stand in for other teams' services and keep every order in memory
    judged: bool = True

    def rss_mb(self) -> float | None:
        """Resident memory (VmRSS of /proc/<pid>/status), None once the process is gone."""
        try:
            status = Path(f"/proc/{self.popen.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return None

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self.log.close()


@dataclass
class Stack:
    """Servers, processes and what the load generator needs; `close()` undoes everything."""

    broker: str
    workdir: Path
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    env: dict[str, str] = field(default_factory=dict)
    database_url: str = ""
    broker_url: str = ""
    servers: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    api_url: str = ""
    tokens: list[str] = field(default_factory=list)
    product_ids: list[str] = field(default_factory=list)
    _cleanups: list[Any] = field(default_factory=list)

    @property
    def groups(self) -> dict[str, str]:
        """Consumer group (queue prefix) -> handler module; this run's own names."""
        return {f"{self.prefix}-shop": SHOP_HANDLERS, f"{self.prefix}-others": SINK_HANDLERS}

    @property
    def prefix(self) -> str:
        """The run's own RabbitMQ exchange or Redis stream prefix."""
        return f"soak{self.run_id}"

    # -- servers and stubs -----------------------------------------------------------------

    def start_servers(self) -> None:
        postgres = provide("postgres")
        self._cleanups.append(postgres.close)
        broker = provide(self.broker)
        self._cleanups.append(broker.close)
        self.database_url = fresh_database(postgres.endpoint.url, f"soak_{self.run_id}")
        self._cleanups.append(lambda: drop_database(postgres.endpoint.url, self.database_url))
        self.broker_url = broker.endpoint.url
        self.servers = {"postgres": postgres.endpoint.source, self.broker: broker.endpoint.source}

    def start_stubs(self) -> dict[str, str]:
        """`python -m mock_services` on free ports; service name -> base URL."""
        token = secrets.token_urlsafe(16)
        ports = dict(zip(SERVICE_NAMES, free_ports(len(SERVICE_NAMES)), strict=True))
        env = {
            **os.environ,
            "MOCK_SERVICES_TOKEN": token,
            "MOCK_SERVICES_HOST": "127.0.0.1",
            **{f"MOCK_SERVICES_{name.upper()}_PORT": str(p) for name, p in ports.items()},
        }
        self.spawn("stubs", [sys.executable, "-m", "mock_services"], env=env, judged=False)
        wait_until(
            lambda: all(_listening(p) for p in ports.values()),
            timeout=30,
            interval=0.1,
            what="the stubs",
        )
        self.env["SERVICES_API_KEY"] = token
        return {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}

    # -- Django ----------------------------------------------------------------------------

    def django_env(self, stubs: Mapping[str, str], override: Mapping[str, Any]) -> None:
        """The environment of every Django process: the run's database, broker and stubs, and
        the INTERLINK override (bench/soak_settings.py merges it)."""
        bus = {"RABBITMQ_EXCHANGE": self.prefix} if self.broker == "rabbitmq" else {}
        if self.broker == "redis":
            bus = {"REDIS_STREAM_PREFIX": self.prefix}
        merged = {**override, "EVENT_BUS": {**override.get("EVENT_BUS", {}), **bus}}
        pythonpath = [str(REPO / "django_app"), str(REPO)]
        self.env = {
            **os.environ,
            **self.env,
            "PYTHONPATH": os.pathsep.join(pythonpath),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "DJANGO_SECRET_KEY": "soak-only-secret-key",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": self.database_url,
            "EVENT_BUS_BACKEND": self.broker,
            "RABBITMQ_URL" if self.broker == "rabbitmq" else "REDIS_URL": self.broker_url,
            "SOAK_MICROSERVICES": json.dumps(merged),
            **{f"{name.upper()}_SERVICE_URL": url for name, url in stubs.items()},
        }
        self.env.pop("EVENT_BUS_ALLOW_MEMORY_BUS", None)

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, str(MANAGE_PY), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def prepare(self, stubs: Mapping[str, str], *, customers: int) -> None:
        """Tables, queues or groups, one users-service user per customer, its token, and two
        products with stock for the whole run."""
        self.manage("migrate", "--verbosity", "0")
        for group, module in self.groups.items():
            self.manage(
                "consume_events", "--group", group, "--handler-module", module, "--declare-only"
            )
        headers = {"Authorization": f"Bearer {self.env['SERVICES_API_KEY']}"}
        for n in range(customers):
            user = _post(
                stubs["users"], "/users", headers, {"email": f"soak{n}@example.com", "name": "Soak"}
            )
            token = self.manage("issue_api_token", f"soak-{n}", "--shop-user-id", user["id"])
            self.tokens.append(token.strip())
        for sku in ("SOAK-A", "SOAK-B"):
            body = {"sku": f"{sku}-{self.run_id.upper()}", "name": sku, "on_hand": STOCK}
            product = _post(stubs["inventory"], "/products", headers, body)
            self.product_ids.append(product["id"])

    def start_processes(self, *, workers: int = 2) -> None:
        """The orders API, the saga workers, the relay and both consumers."""
        port = free_ports(1)[0]
        self.api_url = f"http://127.0.0.1:{port}"
        self.spawn_manage("api", "runserver", "--noreload", f"127.0.0.1:{port}")
        for n in range(1, workers + 1):
            self.spawn_manage(f"saga_worker_{n}", "resume_sagas", "--poll-interval", "0.2")
        self.spawn_manage("relay", "relay_outbox")
        for group, module in self.groups.items():
            name = "consumer_shop" if module == SHOP_HANDLERS else "consumer_others"
            self.spawn_manage(name, "consume_events", "--group", group, "--handler-module", module)
        wait_until(self._api_live, timeout=60, interval=0.2, what="the orders API")

    def _api_live(self) -> bool:
        with contextlib.suppress(requests.RequestException):
            return requests.get(f"{self.api_url}/health/live/", timeout=2).status_code == 200
        return False

    def spawn_manage(self, name: str, *args: str) -> Process:
        return self.spawn(name, [sys.executable, str(MANAGE_PY), *args], env=self.env)

    def spawn(
        self, name: str, argv: Sequence[str], *, env: Mapping[str, str], judged: bool = True
    ) -> Process:
        log = (self.workdir / f"{name}.log").open("ab")
        popen = subprocess.Popen(
            list(argv), env=dict(env), stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
        process = Process(name, popen, log, judged)
        self.processes.append(process)
        return process

    def dead(self) -> list[str]:
        """Processes that exited on their own: the run is void if any did."""
        return [p.name for p in self.processes if not p.alive()]

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        for cleanup in reversed(self._cleanups):
            with contextlib.suppress(Exception):
                cleanup()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _post(base: str, path: str, headers: Mapping[str, str], body: Any) -> dict[str, Any]:
    response = requests.post(
        base + path,
        json=body,
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
        timeout=10,
    )
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found
