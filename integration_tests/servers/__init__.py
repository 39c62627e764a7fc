"""Real servers for the integration tests, one module per server.

Each server is found in this order: an address in the environment (RABBITMQ_URL, REDIS_URL,
DATABASE_URL, CONSUL_HTTP_ADDR); a testcontainers container when a Docker engine answers; the
server binary run as a local process on free ports in a temp dir. `provide()` returns the first
that works, or raises ServerUnavailable with a how-to message. A three-node RabbitMQ cluster
comes the same way from `rabbitmq_cluster.provide()` (RABBITMQ_URLS first).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from . import consul, postgres, rabbitmq, redis
from .containers import docker_available
from .endpoint import Controller, Endpoint, Provisioned, ServerStartError, ServerUnavailable
from .environment import required_servers
from .process import sweep_stale_workdirs

__all__ = [
    "PROVIDERS",
    "Controller",
    "Endpoint",
    "Provisioned",
    "ServerStartError",
    "ServerUnavailable",
    "provide",
    "required_servers",
]

PROVIDERS: dict[str, ModuleType] = {
    "rabbitmq": rabbitmq,
    "redis": redis,
    "postgres": postgres,
    "consul": consul,
}


_swept = False


def provide(name: str) -> Provisioned:
    """Get server `name` (env address -> Docker -> local process)."""
    global _swept
    if not _swept:
        _swept = True
        sweep_stale_workdirs()
    module = PROVIDERS[name]
    from_env: Callable[[], Provisioned | None] = module.from_env
    found = from_env()
    if found is not None:
        return found
    docker_error: Exception | None = None
    if docker_available():
        try:
            result: Provisioned = module.in_docker()
            return result
        except Exception as exc:  # an image that can't be pulled: try the local binary instead
            docker_error = exc
    try:
        result = module.as_process()
    except ServerUnavailable:
        if docker_error is not None:
            raise ServerStartError(
                f"{name}: the Docker container failed: {docker_error}"
            ) from docker_error
        raise
    return result
