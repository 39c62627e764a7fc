"""RabbitMQ: from RABBITMQ_URL, a testcontainers container, or `rabbitmq-server` as its own node."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

from .containers import run_container
from .endpoint import Provisioned, ServerStartError, ServerUnavailable
from .environment import from_env_url
from .process import (
    ManagedProcess,
    free_ports,
    make_workdir,
    process_env,
    remove_workdir,
    start_local_server,
)
from .readiness import port_open, wait_until_ready

ENV = "RABBITMQ_URL"
IMAGE = os.environ.get("RABBITMQ_IMAGE", "rabbitmq:4.1-management")
HOW_TO = (
    "set RABBITMQ_URL=amqp://user:pass@host:5672/%2F (e.g. after "
    "`docker compose -f docker-compose.test.yml up -d rabbitmq`), start a Docker engine "
    "(testcontainers), or install the Debian package rabbitmq-server"
)


def url_for(host: str, port: int, username: str, password: str, vhost: str = "/") -> str:
    auth = f"{quote(username, safe='')}:{quote(password, safe='')}"
    return f"amqp://{auth}@{host}:{port}/{quote(vhost, safe='')}"


def can_connect(url: str) -> bool:
    import pika

    try:
        connection = pika.BlockingConnection(
            pika.URLParameters(url + "?connection_attempts=1&socket_timeout=3")
        )
    except Exception:
        return False
    connection.close()
    return True


def from_env() -> Provisioned | None:
    return from_env_url(
        "rabbitmq",
        ENV,
        default_port=5672,
        ready=can_connect,
        unreachable="no broker answers at {host}:{port}",
        default_username="guest",
        default_password="guest",
    )


def in_docker() -> Provisioned:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from testcontainers.community.rabbitmq import RabbitMqContainer

    (port,) = free_ports(1)
    password = secrets.token_hex(8)
    return run_container(
        "rabbitmq",
        RabbitMqContainer(IMAGE, username="test", password=password),
        port=port,
        container_port=5672,
        url=lambda host: url_for(host, port, "test", password),
        ready=can_connect,
        username="test",
        password=password,
    )


def _binaries() -> tuple[Path, Path] | None:
    for directory in (Path("/usr/lib/rabbitmq/bin"),):  # Debian: the scripts, not the su wrapper
        if (directory / "rabbitmq-server").exists():
            return directory / "rabbitmq-server", directory / "rabbitmqctl"
    found = shutil.which("rabbitmq-server")
    if found:
        ctl = Path(found).with_name("rabbitmqctl")
        if ctl.exists():
            return Path(found), ctl
    return None


class _RabbitNode:
    """One rabbitmq-server node with its own epmd, ports and data dirs under `workdir`."""

    def __init__(
        self, server: Path, ctl: Path, epmd: str, workdir: Path, stomp_port: int | None = None
    ) -> None:
        self.ctl = ctl
        self.workdir = workdir
        self.amqp_port, self.dist_port, self.epmd_port = free_ports(3)
        self.nodename = f"it{self.amqp_port}@localhost"
        self.password = secrets.token_hex(8)
        self.log = workdir / "server.log"
        for sub in ("mnesia", "log", "home"):
            (workdir / sub).mkdir()
        plugins = "rabbitmq_stomp" if stomp_port else ""
        (workdir / "enabled_plugins").write_text(f"[{plugins}].\n")
        # a tiny disk_free_limit: temp dirs on CI runners are small, and the alarm blocks publishers
        config = (
            f"default_user = test\ndefault_pass = {self.password}\n"
            "disk_free_limit.absolute = 1MB\nloopback_users = none\n"
        )
        if stomp_port:
            config += f"stomp.listeners.tcp.1 = 127.0.0.1:{stomp_port}\n"
        (workdir / "rabbitmq.conf").write_text(config)
        self.env = process_env(
            LANG="C.UTF-8",
            HOME=str(workdir / "home"),  # the Erlang cookie lives here, shared with rabbitmqctl
            ERL_EPMD_PORT=str(self.epmd_port),
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.amqp_port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(workdir / "mnesia"),
            RABBITMQ_LOG_BASE=str(workdir / "log"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(workdir / "enabled_plugins"),
            RABBITMQ_CONFIG_FILE=str(workdir / "rabbitmq.conf"),
        )
        # our own epmd, as a child we own: an epmd started by the node would outlive it
        self.epmd = ManagedProcess(
            [epmd, "-port", str(self.epmd_port), "-address", "127.0.0.1"],
            env=self.env,
            log=workdir / "epmd.log",
            cwd=workdir,
        )
        self.server = ManagedProcess([str(server)], env=self.env, log=self.log, cwd=workdir)
        self.url = url_for("127.0.0.1", self.amqp_port, "test", self.password)

    def start(self) -> None:
        if not self.epmd.alive():
            self.epmd.spawn()
            wait_until_ready(
                lambda: port_open("127.0.0.1", self.epmd_port),
                timeout=10,
                what="epmd",
                alive=self.epmd.alive,
            )
        self.server.spawn()
        wait_until_ready(
            lambda: port_open("127.0.0.1", self.amqp_port),
            timeout=90,
            interval=0.1,
            what=f"rabbitmq node {self.nodename}",
            alive=self.server.alive,
        )
        result = subprocess.run(
            [str(self.ctl), "-n", self.nodename, "await_startup", "--timeout", "60"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        if result.returncode != 0:
            raise ServerStartError(
                f"rabbitmqctl await_startup failed: {result.stderr.strip()[-500:]}"
            )

    def stop(self) -> None:
        self.server.terminate(timeout=30)  # SIGTERM: the script runs a graceful `rabbitmqctl stop`

    def kill(self) -> None:
        self.server.kill()  # the node's whole process group: beam.smp dies mid-write

    def close(self) -> None:
        self.stop()
        self.epmd.terminate(timeout=5)


def as_process(*, stomp_port: int | None = None) -> Provisioned:
    """A node of our own; with `stomp_port`, the rabbitmq_stomp plugin listens there too
    (bench/bench_peer.py: the library it is measured against speaks STOMP)."""
    binaries = _binaries()
    epmd = shutil.which("epmd")
    if binaries is None or epmd is None:
        raise ServerUnavailable(f"RabbitMQ unavailable (no rabbitmq-server/epmd binary): {HOW_TO}")
    workdir = make_workdir("rabbitmq")
    node = _RabbitNode(binaries[0], binaries[1], epmd, workdir, stomp_port)

    def close() -> None:
        node.close()
        remove_workdir(workdir)

    return start_local_server(
        "rabbitmq",
        port=node.amqp_port,
        url=node.url,
        log=node.log,
        start=node.start,
        stop=node.stop,
        kill=node.kill,
        close=close,
        username="test",
        password=node.password,
    )
