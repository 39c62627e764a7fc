"""Redis with Sentinel: a primary, a replica and three sentinels, each a process a test can
SIGKILL, SIGSTOP and SIGCONT.

Found as the other servers are: REDIS_SENTINELS ("host:port,...") with REDIS_SENTINEL_SERVICE in
the environment (a cluster we do not own: no signals); containers on the host's network when a
Docker engine answers; else `redis-server` and `redis-server --sentinel` as local processes.
The replica syncs at once (`--repl-diskless-sync-delay 0`), the sentinels start once its link
is up, and a primary is down after DOWN_AFTER_MS: 1000 let a spurious second failover happen on
this machine, 2000 did not.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django_interlink.events.redis_connection import RedisAddressError, parse_sentinels
from mock_services.waiting import WaitTimeout, wait_until

from .containers import docker_available
from .endpoint import Endpoint, Provisioned, ServerStartError, ServerUnavailable
from .process import ManagedProcess, free_ports, make_workdir, process_env, remove_workdir
from .sentinel_cluster import HOST, SERVICE, Node, SentinelCluster, quietly

ENV = "REDIS_SENTINELS"
SERVICE_ENV = "REDIS_SENTINEL_SERVICE"
IMAGE = os.environ.get("REDIS_IMAGE", "redis:7.4-alpine")
DOWN_AFTER_MS = 2000
FAILOVER_TIMEOUT_MS = 10_000
REDIS_ARGS = ["--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0"]
HOW_TO = (
    "set REDIS_SENTINELS=host:port,... and REDIS_SENTINEL_SERVICE (e.g. after `docker compose "
    "-f docker-compose.test.yml --profile sentinel up -d`), start a Docker engine, or install "
    "the Debian package redis-server"
)


def sentinel_conf(port: int, primary_port: int, workdir: str) -> str:
    return "\n".join(
        [
            f"port {port}",
            f"bind {HOST}",
            f"dir {workdir}",
            f"sentinel monitor {SERVICE} {HOST} {primary_port} 2",
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}",
            f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}",
            f"sentinel parallel-syncs {SERVICE} 1",
            "",
        ]
    )


@dataclass
class SentinelEndpoint(Endpoint):
    """The Endpoint of a Sentinel cluster: `url` is its sentinels, "host:port,..."."""

    cluster: SentinelCluster | None = field(default=None, repr=False, compare=False)


def _provisioned(
    cluster: SentinelCluster,
    source: Any,
    close: Callable[[], None],
    startup: float | None = None,
) -> Provisioned:
    host, port = cluster.sentinels[0]
    endpoint = SentinelEndpoint(
        name="redis_sentinel",
        host=host,
        port=port,
        url=cluster.addresses,
        source=source,
        log_tail=cluster.log_tail,
        startup_seconds=startup,
        cluster=cluster,
    )
    return Provisioned(endpoint, close=close)


def from_env() -> Provisioned | None:
    raw = os.environ.get(ENV)
    if not raw:
        return None
    try:
        sentinels = list(parse_sentinels(raw))
    except RedisAddressError as exc:
        raise ServerStartError(f"{ENV} is set but invalid: {exc}") from exc
    cluster = SentinelCluster(sentinels, service=os.environ.get(SERVICE_ENV) or SERVICE)
    if cluster.primary_address() is None:
        raise ServerStartError(f"{ENV} is set but no sentinel names {cluster.service!r}")
    return _provisioned(cluster, "env", lambda: None)


def _cluster(
    spawn: Callable[[str, int], Node], sentinel_argv: Callable[[Node, int], list[str]]
) -> SentinelCluster:
    """Start a primary, a replica synced to it, then three sentinels that know each other."""
    ports = free_ports(5)
    primary, replica = spawn("redis-1", ports[0]), spawn("redis-2", ports[1])

    def node_argv(node: Node, replica_of: tuple[str, int] | None = None) -> list[str]:
        argv = ["--port", str(node.port), "--bind", HOST, *REDIS_ARGS]
        return argv + (["--replicaof", replica_of[0], str(replica_of[1])] if replica_of else [])

    cluster = SentinelCluster(
        [(HOST, port) for port in ports[2:]],
        nodes=[primary, replica],
        replica_argv=node_argv,
    )
    primary.start(node_argv(primary))
    replica.start(node_argv(replica, primary.address))
    wait_until(
        quietly(lambda: replica.client().info("replication")["master_link_status"] == "up"),
        timeout=30,
        interval=0.05,
        what="the replica's link",
    )
    for index, port in enumerate(ports[2:], start=1):
        sentinel = spawn(f"sentinel-{index}", port)
        sentinel.start(sentinel_argv(sentinel, primary.port))
        cluster.sentinel_nodes.append(sentinel)
    wait_until(
        quietly(lambda: cluster._in_sync(primary)), timeout=60, interval=0.1, what="sentinels"
    )
    return cluster


def as_process() -> Provisioned:
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerUnavailable(f"Redis Sentinel unavailable (no redis-server binary): {HOW_TO}")
    workdir = make_workdir("sentinel")

    def spawn(name: str, port: int) -> Node:
        home = workdir / name
        home.mkdir(exist_ok=True)

        def run(argv: list[str]) -> ManagedProcess:
            if argv and argv[0].endswith(".conf"):  # a sentinel: its config file, then the flag
                argv = [argv[0], "--sentinel"]
            else:
                argv = [*argv, "--dir", str(home), "--daemonize", "no"]
            process = ManagedProcess(
                [binary, *argv], env=process_env(), log=home / "server.log", cwd=home
            )
            process.spawn()
            return process

        return Node(name, port, run)

    def sentinel_argv(node: Node, primary_port: int) -> list[str]:
        conf = workdir / node.name / "sentinel.conf"  # sentinels rewrite their config: theirs
        conf.write_text(sentinel_conf(node.port, primary_port, str(conf.parent)))
        return [str(conf)]

    nodes: list[Node] = []

    def close() -> None:
        for node in nodes:
            with contextlib.suppress(ProcessLookupError):
                node.resume()
            if isinstance(node.handle, ManagedProcess):
                node.handle.terminate(timeout=10)
        remove_workdir(workdir)

    def tracked(name: str, port: int) -> Node:
        node = spawn(name, port)
        nodes.append(node)
        return node

    started = time.monotonic()
    try:
        cluster = _cluster(tracked, sentinel_argv)
    except (WaitTimeout, ServerStartError) as exc:
        tails = "\n".join(f"--- {n.name}\n{n.log_tail(20)}" for n in nodes)
        close()
        raise ServerStartError(f"Redis Sentinel cluster did not start: {exc}\n{tails}") from exc
    return _provisioned(cluster, "process", close, time.monotonic() - started)


def in_docker() -> Provisioned:
    """The same cluster as containers on the host's network (sentinels announce 127.0.0.1)."""
    if not docker_available():
        raise ServerUnavailable(HOW_TO)
    from testcontainers.core.container import DockerContainer

    containers: list[Any] = []

    def spawn(name: str, port: int) -> Node:
        def run(argv: list[str]) -> Any:
            if argv and argv[0].endswith(".conf"):
                script = argv[1]
                command = [
                    "sh",
                    "-c",
                    f"printf '%s' '{script}' > /tmp/s.conf && "
                    "exec redis-server /tmp/s.conf --sentinel",
                ]
            else:
                command = ["redis-server", *argv]
            container = (
                DockerContainer(IMAGE).with_command(command).with_kwargs(network_mode="host")
            )
            container.start()
            containers.append(container)
            return container

        return Node(name, port, run)

    def sentinel_argv(node: Node, primary_port: int) -> list[str]:
        return ["sentinel.conf", sentinel_conf(node.port, primary_port, "/tmp")]

    def close() -> None:
        for container in containers:
            with contextlib.suppress(Exception):
                container.stop()

    started = time.monotonic()
    try:
        cluster = _cluster(spawn, sentinel_argv)
    except (WaitTimeout, ServerStartError):
        close()
        raise
    return _provisioned(cluster, "docker", close, time.monotonic() - started)
