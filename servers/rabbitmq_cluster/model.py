"""What a test gets: the cluster (`RabbitCluster`) and a handle per node (`ClusterNode`)."""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..endpoint import ServerStartError

SIZE = 3
# Ports for local nodes come from here: below Linux's ephemeral range (32768-60999 by default).
PORT_RANGE = (20000, 32000)


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(count: int, *, tries: int = 200) -> list[int]:
    """`count` consecutive free ports in PORT_RANGE (a random block, so sessions don't collide)."""
    low, high = PORT_RANGE
    for _ in range(tries):
        base = random.randrange(low, high - count)
        block = list(range(base, base + count))
        if all(_free(port) for port in block):
            return block
    raise ServerStartError(f"no {count} consecutive free ports in {low}-{high}")


@dataclass(eq=False)
class ClusterNode:
    """One node of the cluster as a test sees it."""

    index: int
    name: str  # the Erlang node name, e.g. rabbit1@localhost
    url: str  # its AMQP URL
    port: int
    _kill: Callable[[], None] | None = field(default=None, repr=False)
    _restart: Callable[[], None] | None = field(default=None, repr=False)
    _pid: Callable[[], int | None] = field(default=lambda: None, repr=False)
    running: bool = True

    @property
    def pid(self) -> int | None:
        """The pid of the node's process (its process group is what `kill()` SIGKILLs)."""
        return self._pid()

    @property
    def can_kill(self) -> bool:
        return self._kill is not None

    def kill(self) -> None:
        """SIGKILL the node: nothing flushed, every connection to it dropped at once."""
        if self._kill is None:
            raise NotImplementedError(f"{self.name} is not ours to kill")
        if self.running:
            self._kill()
            self.running = False

    def restart(self) -> None:
        """Start a killed node again; it rejoins the cluster (its data dir knows the cluster)."""
        if self._restart is None:
            raise NotImplementedError(f"{self.name} is not ours to restart")
        if not self.running:
            self._restart()
            self.running = True


@dataclass(eq=False)
class RabbitCluster:
    """The cluster: its nodes, where it came from, and what a test asks of it."""

    nodes: list[ClusterNode]
    source: str  # "env", "docker" or "process"
    username: str = ""
    password: str = field(default="", repr=False)
    startup_seconds: float | None = None
    close: Callable[[], None] = field(default=lambda: None, repr=False)
    #: runs `rabbitmqctl <args>` against the node given (None: any live one), returns its stdout;
    #: None when the cluster is not ours
    ctl: Callable[[Sequence[str], ClusterNode | None], str] | None = field(default=None, repr=False)
    log_tail: Callable[[int], str] | None = field(default=None, repr=False)

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated: a RABBITMQ_URL setting for the whole cluster."""
        return ",".join(self.urls)

    def node_on_port(self, port: int) -> ClusterNode:
        for node in self.nodes:
            if node.port == port:
                return node
        raise LookupError(f"no node of the cluster listens on port {port}")

    def node_named(self, name: str) -> ClusterNode:
        for node in self.nodes:
            if node.name == name:
                return node
        raise LookupError(f"no node of the cluster is named {name}")

    def queue_leader(self, queue: str, vhost: str = "/") -> ClusterNode:
        """The node holding the quorum queue's leader (`rabbitmqctl list_queues name leader`)."""
        out = self._ctl(["list_queues", "-p", vhost, "name", "leader", "--formatter", "json"])
        for row in json.loads(out or "[]"):
            if row.get("name") == queue:
                return self.node_named(str(row["leader"]))
        raise LookupError(f"no queue {queue} in the cluster")

    def offline_members(self, prefix: str = "", vhost: str = "/") -> dict[str, list[str]]:
        """Quorum queues (named `prefix`...) with members not online, and those members. A
        node restarted after a kill runs before its replicas are back: kill another node then
        and a three-member queue has one, no majority, and the broker refuses its publishes."""
        args = ["list_queues", "-p", vhost, "name", "type", "members", "online"]
        rows = json.loads(self._ctl([*args, "--formatter", "json"]) or "[]")
        found = {}
        for row in rows:
            name = str(row.get("name", ""))
            if row.get("type") == "quorum" and name.startswith(prefix):
                missing = sorted(set(row.get("members") or []) - set(row.get("online") or []))
                if missing:
                    found[name] = missing
        return found

    def queue_members(self, queue: str, vhost: str = "/") -> list[str]:
        """The nodes holding a replica of the quorum queue, by name, sorted."""
        out = self._ctl(["list_queues", "-p", vhost, "name", "members", "--formatter", "json"])
        for row in json.loads(out or "[]"):
            if row.get("name") == queue:
                return sorted(row["members"])
        raise LookupError(f"no queue {queue} in the cluster")

    def running_nodes(self) -> list[str]:
        status = json.loads(self._ctl(["cluster_status", "--formatter", "json"]))
        return sorted(status["running_nodes"])

    def _ctl(self, args: Sequence[str], node: ClusterNode | None = None) -> str:
        if self.ctl is None:
            raise NotImplementedError("the cluster is not ours: rabbitmqctl cannot reach it")
        return self.ctl(args, node)

    def connection_node(self, connection_name: str) -> ClusterNode:
        """The node a client's connection (pika's `connection_name`) is on, by the AMQP port
        that accepted it (each node listens on its own port, in containers too)."""
        columns = ["list_connections", "port", "client_properties", "--formatter", "json"]
        for row in json.loads(self._ctl(columns) or "[]"):
            names = [v for k, _, v in row["client_properties"] if k == "connection_name"]
            if connection_name in names:
                return self.node_on_port(int(row["port"]))
        raise LookupError(f"no node has a connection named {connection_name}")

    def restart_killed(self) -> None:
        for node in self.nodes:
            if not node.running:
                node.restart()
