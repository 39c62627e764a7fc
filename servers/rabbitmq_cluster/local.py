"""Three `rabbitmq-server` nodes as local processes: one shared epmd, one Erlang cookie, each its
own AMQP and distribution ports (below the ephemeral range, so a client socket cannot take one
while a node is down); the second and third `join_cluster` the first. A node restarted after a
SIGKILL finds its cluster in its own data directory and rejoins it."""

from __future__ import annotations

import functools
import secrets
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from ..endpoint import ServerStartError, ServerUnavailable
from ..process import ManagedProcess, make_workdir, process_env, remove_workdir, tail_file
from ..rabbitmq import HOW_TO, _binaries, url_for
from ..readiness import port_open, wait_until_ready
from .model import SIZE, ClusterNode, RabbitCluster, free_port_block

CTL_PORTS = 10  # rabbitmqctl's own distribution ports, one range per cluster


class _LocalNode:
    """One `rabbitmq-server` of the cluster, its data under `workdir`."""

    def __init__(
        self, server: Path, workdir: Path, *, index: int, amqp: int, dist: int, env: dict[str, str]
    ) -> None:
        self.index = index
        self.name = f"rabbit{index}@localhost"
        self.amqp_port = amqp
        self.workdir = workdir
        self.log = workdir / "server.log"
        for sub in ("mnesia", "log"):
            (workdir / sub).mkdir()
        self.env = {
            **env,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(amqp),
            "RABBITMQ_DIST_PORT": str(dist),
            "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(workdir / "log"),
        }
        self.process = ManagedProcess([str(server)], env=self.env, log=self.log, cwd=workdir)

    def spawn(self) -> None:
        self.process.spawn()

    def pid(self) -> int | None:
        proc = self.process.proc
        return proc.pid if proc is not None else None


class _LocalCluster:
    def __init__(self, server: Path, ctl: Path, epmd: str) -> None:
        self.ctl_path = ctl
        self.workdir = make_workdir("rabbitmq-cluster")
        self.password = secrets.token_hex(8)
        ports = free_port_block(2 * SIZE + 1 + CTL_PORTS)
        self.epmd_port = ports[0]
        home = self.workdir / "home"  # HOME of every node and rabbitmqctl: the shared cookie
        home.mkdir()
        cookie = home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16))
        cookie.chmod(0o400)  # Erlang refuses a cookie others can read
        (self.workdir / "enabled_plugins").write_text("[].\n")
        (self.workdir / "rabbitmq.conf").write_text(
            f"default_user = test\ndefault_pass = {self.password}\n"
            "disk_free_limit.absolute = 1MB\nloopback_users = none\n"
        )
        ctl_low = ports[1 + 2 * SIZE]
        self.env = process_env(
            LANG="C.UTF-8",
            HOME=str(home),
            ERL_EPMD_PORT=str(self.epmd_port),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.workdir / "enabled_plugins"),
            RABBITMQ_CONFIG_FILE=str(self.workdir / "rabbitmq.conf"),
            RABBITMQ_CTL_DIST_PORT_MIN=str(ctl_low),
            RABBITMQ_CTL_DIST_PORT_MAX=str(ctl_low + CTL_PORTS - 1),
        )
        self.epmd = ManagedProcess(
            [epmd, "-port", str(self.epmd_port), "-address", "127.0.0.1"],
            env=self.env,
            log=self.workdir / "epmd.log",
            cwd=self.workdir,
        )
        self.nodes = []
        for index in range(1, SIZE + 1):
            node_dir = self.workdir / f"node{index}"
            node_dir.mkdir()
            amqp, dist = ports[index], ports[SIZE + index]
            self.nodes.append(
                _LocalNode(server, node_dir, index=index, amqp=amqp, dist=dist, env=self.env)
            )
        self.epmd_binary = epmd

    def rabbitmqctl(self, node: _LocalNode, *args: str, timeout: float = 90) -> str:
        result = subprocess.run(
            [str(self.ctl_path), "-n", node.name, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise ServerStartError(
                f"rabbitmqctl -n {node.name} {' '.join(args)} failed: "
                f"{(result.stderr or result.stdout).strip()[-500:]}"
            )
        return result.stdout

    def _registered(self, node: _LocalNode) -> bool:
        names = subprocess.run(
            [self.epmd_binary, "-port", str(self.epmd_port), "-names"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
        short = node.name.split("@", 1)[0]
        return f"name {short} at port" in names

    def wait_started(self, node: _LocalNode) -> None:
        # epmd lists the node before it answers rabbitmqctl; await_startup exits 69 until then
        wait_until_ready(
            lambda: self._registered(node) and port_open("127.0.0.1", node.amqp_port),
            timeout=120,
            interval=0.2,
            what=f"rabbitmq node {node.name}",
            alive=node.process.alive,
        )
        self.rabbitmqctl(node, "await_startup", "--timeout", "90", timeout=120)

    def start(self) -> None:
        self.epmd.spawn()
        wait_until_ready(
            lambda: port_open("127.0.0.1", self.epmd_port),
            timeout=10,
            what="epmd",
            alive=self.epmd.alive,
        )
        for node in self.nodes:  # all at once, so their start-ups overlap
            node.spawn()
        for node in self.nodes:
            self.wait_started(node)
        first = self.nodes[0]
        for node in self.nodes[1:]:
            self.rabbitmqctl(node, "stop_app")
            self.rabbitmqctl(node, "join_cluster", first.name)
            self.rabbitmqctl(node, "start_app")

    def kill(self, node: _LocalNode) -> None:
        node.process.kill()

    def restart(self, node: _LocalNode) -> None:
        node.spawn()
        self.wait_started(node)

    def ctl(self, args: Sequence[str], on: ClusterNode | None = None) -> str:
        for node in self.nodes:
            if node.process.alive() and (on is None or on.name == node.name):
                return self.rabbitmqctl(node, "-q", *args)
        raise ServerStartError("no node of the cluster is running")

    def log_tail(self, lines: int) -> str:
        return "\n".join(
            f"--- {node.name} ---\n{tail_file(node.log, lines)}" for node in self.nodes
        )

    def close(self) -> None:
        for node in self.nodes:
            node.process.terminate(timeout=30)
        self.epmd.terminate(timeout=5)
        remove_workdir(self.workdir)


def as_process() -> RabbitCluster:
    binaries = _binaries()
    epmd = shutil.which("epmd")
    if binaries is None or epmd is None:
        raise ServerUnavailable(f"RabbitMQ unavailable (no rabbitmq-server/epmd binary): {HOW_TO}")
    cluster = _LocalCluster(binaries[0], binaries[1], epmd)
    started = time.monotonic()
    try:
        cluster.start()
    except Exception as exc:
        text = cluster.log_tail(30)
        cluster.close()
        raise ServerStartError(f"{exc}\n{text}") from exc
    nodes = []
    for local in cluster.nodes:
        url = url_for("127.0.0.1", local.amqp_port, "test", cluster.password)
        node = ClusterNode(local.index, local.name, url, local.amqp_port)
        node._kill = functools.partial(cluster.kill, local)
        node._restart = functools.partial(cluster.restart, local)
        node._pid = local.pid
        nodes.append(node)
    return RabbitCluster(
        nodes,
        "process",
        username="test",
        password=cluster.password,
        startup_seconds=time.monotonic() - started,
        close=cluster.close,
        ctl=cluster.ctl,
        log_tail=cluster.log_tail,
    )
