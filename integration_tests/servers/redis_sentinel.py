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
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from mock_services.waiting import WaitTimeout, wait_until

from .containers import docker_available
from .endpoint import Endpoint, Provisioned, ServerStartError, ServerUnavailable
from .process import (
    ManagedProcess,
    free_ports,
    make_workdir,
    process_env,
    remove_workdir,
    tail_file,
)

ENV = "REDIS_SENTINELS"
SERVICE_ENV = "REDIS_SENTINEL_SERVICE"
SERVICE = "mymaster"
IMAGE = os.environ.get("REDIS_IMAGE", "redis:7.4-alpine")
DOWN_AFTER_MS = 2000
FAILOVER_TIMEOUT_MS = 10_000
HOST = "127.0.0.1"
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


class Node:
    """One server of the cluster (a redis-server or a sentinel) that we run: its address, its
    log, and the signals a test sends it."""

    def __init__(self, name: str, port: int, spawn: Callable[[list[str]], Any]) -> None:
        self.name = name
        self.port = port
        self._spawn = spawn  # argv after the binary -> a running handle
        self.handle: Any = None

    @property
    def address(self) -> tuple[str, int]:
        return HOST, self.port

    def start(self, argv: list[str]) -> None:
        self.handle = self._spawn(argv)

    @property
    def pid(self) -> int | None:
        proc = getattr(self.handle, "proc", None)
        return proc.pid if proc is not None else None

    def signal(self, sig: signal.Signals) -> None:
        if isinstance(self.handle, ManagedProcess):
            if self.handle.proc is not None:
                os.killpg(self.handle.proc.pid, sig)
        elif self.handle is not None:  # a container
            self.handle.get_wrapped_container().kill(signal=sig.name)

    def kill(self) -> None:
        """SIGKILL: nothing flushed, nothing handed over; returns once it is gone."""
        if isinstance(self.handle, ManagedProcess):
            self.handle.kill()
        elif self.handle is not None:
            with contextlib.suppress(Exception):
                self.handle.stop()
        self.handle = None

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal(signal.SIGCONT)

    @property
    def running(self) -> bool:
        if isinstance(self.handle, ManagedProcess):
            return self.handle.alive()
        return self.handle is not None

    def client(self, timeout: float = 2.0) -> Any:
        return redis.Redis(*self.address, socket_timeout=timeout, socket_connect_timeout=timeout)

    def log_tail(self, lines: int) -> str:
        log = getattr(self.handle, "log", None)
        return tail_file(log, lines) if isinstance(log, Path) else ""


@dataclass
class SentinelCluster:
    """The cluster a test gets: its sentinels' addresses, the service, and (when we run it)
    the two redis-server nodes and the three sentinels as Nodes."""

    sentinels: list[tuple[str, int]]
    service: str = SERVICE
    nodes: list[Node] = field(default_factory=list)
    sentinel_nodes: list[Node] = field(default_factory=list)
    replica_argv: Callable[[Node, tuple[str, int]], list[str]] | None = None

    @property
    def controllable(self) -> bool:
        """Can a test kill and stop its servers (we started them)?"""
        return bool(self.nodes)

    @property
    def addresses(self) -> str:
        """The sentinels as REDIS_SENTINELS takes them: "host:port,host:port,..."."""
        return ",".join(f"{host}:{port}" for host, port in self.sentinels)

    def primary_address(self) -> tuple[str, int] | None:
        """Where the first sentinel that answers says the primary is."""
        for host, port in self.sentinels:
            client: Any = redis.Redis(host, port, socket_timeout=1, socket_connect_timeout=1)
            try:
                found = client.sentinel_get_master_addr_by_name(self.service)
            except redis.RedisError:
                continue
            finally:
                client.close()
            if found:
                return str(found[0]), int(found[1])
        return None

    def node_at(self, address: tuple[str, int]) -> Node:
        for node in self.nodes:
            if node.port == address[1]:
                return node
        raise LookupError(f"no node of ours at {address}")

    def primary(self) -> Node:
        address = self.primary_address()
        if address is None:
            raise LookupError("no sentinel names a primary")
        return self.node_at(address)

    def replica(self) -> Node:
        primary = self.primary()
        return next(node for node in self.nodes if node is not primary)

    def wait_for_failover(self, old: Node, timeout: float = 30.0) -> Node:
        """Wait until every sentinel names a primary other than `old`, and it says it is one."""

        def moved() -> bool:
            for host, port in self.sentinels:
                client: Any = redis.Redis(host, port, socket_timeout=1, socket_connect_timeout=1)
                try:
                    found = client.sentinel_get_master_addr_by_name(self.service)
                finally:
                    client.close()
                if not found or int(found[1]) == old.port:
                    return False
            role = self.primary().client().info("replication")["role"]
            return bool(role == "master")

        wait_until(_quietly(moved), timeout=timeout, interval=0.1, what="the failover")
        return self.primary()

    def restore(self, timeout: float = 60.0) -> None:
        """Back to one primary and one replica in sync, seen by all three sentinels: resume
        what is stopped, start what was killed as a replica of the current primary."""
        for node in [*self.nodes, *self.sentinel_nodes]:
            with contextlib.suppress(ProcessLookupError):
                node.resume()
        wait_until(
            _quietly(lambda: self.primary_address() is not None),
            timeout=timeout,
            interval=0.1,
            what="a primary",
        )
        primary = self.primary()
        for node in self.nodes:
            if node is not primary and not node.running:
                assert self.replica_argv is not None
                node.start(self.replica_argv(node, primary.address))
        wait_until(
            _quietly(lambda: self._in_sync(primary)), timeout=timeout, interval=0.1, what="sync"
        )

    def _in_sync(self, primary: Node) -> bool:
        for node in self.nodes:
            if node is primary:
                continue
            info = node.client().info("replication")
            if info.get("master_link_status") != "up" or int(info["master_port"]) != primary.port:
                return False
        for host, port in self.sentinels:
            client: Any = redis.Redis(host, port, socket_timeout=1, socket_connect_timeout=1)
            try:
                master = client.sentinel_master(self.service)
                replicas = client.sentinel_slaves(self.service)
            finally:
                client.close()
            if int(master["port"]) != primary.port or int(master["num-other-sentinels"]) < 2:
                return False
            healthy = [r for r in replicas if not {"s_down", "o_down", "disconnected"} & _flags(r)]
            if len(healthy) < len(self.nodes) - 1:
                return False
        return True

    def log_tail(self, lines: int) -> str:
        return "\n".join(
            f"--- {node.name}\n{node.log_tail(lines)}"
            for node in [*self.nodes, *self.sentinel_nodes]
        )


def _flags(info: dict[str, Any]) -> set[str]:
    flags = info.get("flags", "")
    return set(flags.split(",")) if isinstance(flags, str) else {str(f) for f in flags}


def _quietly(check: Callable[[], bool]) -> Callable[[], bool]:
    """`check`, with a server that does not answer yet counting as "not yet"."""

    def run() -> bool:
        try:
            return check()
        except (redis.RedisError, OSError, LookupError, KeyError):
            return False

    return run


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
    from microservices.events.redis_connection import RedisAddressError, parse_sentinels

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
        _quietly(lambda: replica.client().info("replication")["master_link_status"] == "up"),
        timeout=30,
        interval=0.05,
        what="the replica's link",
    )
    for index, port in enumerate(ports[2:], start=1):
        sentinel = spawn(f"sentinel-{index}", port)
        sentinel.start(sentinel_argv(sentinel, primary.port))
        cluster.sentinel_nodes.append(sentinel)
    wait_until(
        _quietly(lambda: cluster._in_sync(primary)), timeout=60, interval=0.1, what="sentinels"
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
