"""Three RabbitMQ containers on their own Docker network, one cookie, joined to the first."""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from ..endpoint import ServerStartError
from ..rabbitmq import can_connect, url_for
from ..readiness import wait_until_ready
from .model import SIZE, ClusterNode, RabbitCluster, free_port_block

IMAGE = os.environ.get("RABBITMQ_IMAGE", "rabbitmq:4.1-management")


def in_docker() -> RabbitCluster:
    """Three containers on their own Docker network, one cookie, the others joined to the first."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.network import Network

    started = time.monotonic()
    password, cookie = secrets.token_hex(8), secrets.token_hex(16)
    ports = free_port_block(SIZE)
    network = Network()
    network.create()
    containers: list[Any] = []

    def close() -> None:
        for container in containers:
            with contextlib.suppress(Exception):
                container.stop()
        with contextlib.suppress(Exception):
            network.remove()

    def exec_in(container: Any, argv: list[str]) -> str:
        code, out = container.get_wrapped_container().exec_run(argv)
        text = bytes(out).decode(errors="replace")
        if code != 0:
            raise ServerStartError(f"{' '.join(argv)} failed: {text[-500:]}")
        return text

    nodes: list[ClusterNode] = []
    try:
        for index, port in enumerate(ports, start=1):
            host = f"rabbit{index}"
            container = (
                DockerContainer(IMAGE)
                .with_network(network)
                .with_network_aliases(host)
                .with_kwargs(hostname=host)
                .with_env("RABBITMQ_ERLANG_COOKIE", cookie)
                .with_env("RABBITMQ_DEFAULT_USER", "test")
                .with_env("RABBITMQ_DEFAULT_PASS", password)
                # the same port inside and out: `list_connections port` then names the node
                .with_env("RABBITMQ_NODE_PORT", str(port))
                .with_bind_ports(port, port)
            )
            container.start()
            containers.append(container)
            url = url_for("127.0.0.1", port, "test", password)
            wait_until_ready(functools.partial(can_connect, url), timeout=120, what=host)
            node = ClusterNode(index, f"rabbit@{host}", url, port)
            node._kill = container.get_wrapped_container().kill
            node._restart = _container_restart(container, url)
            node._pid = _container_pid(container)
            nodes.append(node)
        for container in containers[1:]:
            for argv in (["stop_app"], ["join_cluster", "rabbit@rabbit1"], ["start_app"]):
                exec_in(container, ["rabbitmqctl", *argv])
    except Exception:
        close()
        raise

    def ctl(args: Sequence[str], on: ClusterNode | None = None) -> str:
        for node, container in zip(nodes, containers, strict=True):
            if node.running and (on is None or on is node):
                return exec_in(container, ["rabbitmqctl", "-q", *args])
        raise ServerStartError("no node of the cluster is running")

    return RabbitCluster(
        nodes,
        "docker",
        username="test",
        password=password,
        startup_seconds=time.monotonic() - started,
        close=close,
        ctl=ctl,
    )


def _container_restart(container: Any, url: str) -> Callable[[], None]:
    def restart() -> None:
        container.get_wrapped_container().start()
        wait_until_ready(lambda: can_connect(url), timeout=120, what="a restarted cluster node")

    return restart


def _container_pid(container: Any) -> Callable[[], int | None]:
    def pid() -> int | None:
        wrapped = container.get_wrapped_container()
        wrapped.reload()
        return int(wrapped.attrs["State"]["Pid"]) or None

    return pid
