"""A three-node RabbitMQ cluster: from RABBITMQ_URLS, three testcontainers, or three local nodes.

Each node has a handle (`ClusterNode`): its AMQP URL, its Erlang node name, the pid to SIGKILL,
and `kill()` / `restart()` (restarted, it rejoins the cluster). The cluster (`RabbitCluster`)
finds a node by port or name, a quorum queue's leader, and the running nodes.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

from ..containers import first_available
from ..endpoint import ServerStartError
from ..rabbitmq import can_connect
from .docker import in_docker
from .local import as_process
from .model import ClusterNode, RabbitCluster

__all__ = ["ENV", "ClusterNode", "RabbitCluster", "provide"]

ENV = "RABBITMQ_URLS"


def from_env() -> RabbitCluster | None:
    """The cluster named by RABBITMQ_URLS (comma-separated AMQP URLs), as we don't own it."""
    raw = os.environ.get(ENV, "")
    urls = [u.strip() for u in raw.split(",") if u.strip()]
    if not urls:
        return None
    nodes = []
    for index, url in enumerate(urls, start=1):
        if not can_connect(url):
            raise ServerStartError(f"{ENV} is set but no broker answers at {url.split('@')[-1]}")
        parts = urlsplit(url)
        nodes.append(ClusterNode(index, f"node{index}", url, parts.port or 5672))
    parts = urlsplit(urls[0])
    return RabbitCluster(
        nodes,
        "env",
        username=unquote(parts.username or "guest"),
        password=unquote(parts.password or "guest"),
    )


def provide() -> RabbitCluster:
    """RABBITMQ_URLS first, then three containers when Docker answers, else three local nodes."""
    return first_available("the RabbitMQ cluster", from_env, in_docker, as_process)
