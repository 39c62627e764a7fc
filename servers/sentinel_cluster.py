"""A Redis Sentinel cluster a test drives: its nodes (each a process or container it can
SIGKILL, SIGSTOP, SIGCONT), where the sentinels say the primary is, and its repair between tests
(redis_sentinel.py starts one). redis-py is imported where a client is made, as in the other
servers' modules, so importing the package costs no client library."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .process import ManagedProcess, tail_file
from .waiting import wait_until

SERVICE = "mymaster"
HOST = "127.0.0.1"


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
        elif self.handle is not None:  # a container: `docker kill` sends SIGKILL, then remove it
            with contextlib.suppress(Exception):
                self.handle.get_wrapped_container().kill()
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
        import redis

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
        import redis

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

        import redis

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

        wait_until(quietly(moved), timeout=timeout, interval=0.1, what="the failover")
        return self.primary()

    def restore(self, timeout: float = 60.0) -> None:
        """Back to one primary and one replica in sync, seen by all three sentinels: resume
        what is stopped, start what was killed as a replica of the current primary."""
        for node in [*self.nodes, *self.sentinel_nodes]:
            with contextlib.suppress(ProcessLookupError):
                node.resume()
        wait_until(
            quietly(lambda: self.primary_address() is not None),
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
            quietly(lambda: self._in_sync(primary)), timeout=timeout, interval=0.1, what="sync"
        )

    def _in_sync(self, primary: Node) -> bool:
        import redis

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


def quietly(check: Callable[[], bool]) -> Callable[[], bool]:
    """`check`, with a server that does not answer yet counting as "not yet"."""

    import redis

    def run() -> bool:
        try:
            return check()
        except (redis.RedisError, OSError, LookupError, KeyError):
            return False

    return run
