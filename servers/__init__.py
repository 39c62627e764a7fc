"""Real servers for the integration tests, the demo's real stack and the benchmarks, one module
per server. Standard library and the servers' client libraries only: never Django, the app, the
shop or the stubs (lint-imports holds both sides to it).

Each server is found in this order: an address in the environment (RABBITMQ_URL, REDIS_URL,
REDIS_SENTINELS, DATABASE_URL, CONSUL_HTTP_ADDR); a testcontainers container when a Docker engine
answers; the server binary run as a local process on free ports in a temp dir. `provide()`
returns the first that works, or raises ServerUnavailable with a how-to message. A three-node
RabbitMQ cluster comes the same way from `rabbitmq_cluster.provide()` (RABBITMQ_URLS first), a
PostgreSQL primary and standby from `postgres_standby.provide()` (DATABASE_CLUSTER_URL first).

Layers, highest first; a module imports only from layers below its own (`|`: independent):

    tests
    postgres_standby | rabbitmq_cluster | redis_sentinel
                                  the multi-server setups a test can break a piece of
    consul | postgres | rabbitmq | redis | sentinel_cluster
                                  one server each: from the environment, Docker or a process
    containers | process | environment
                                  how a server is run or found
    readiness                     a port that answers, a server that is ready
    endpoint | waiting            what a test gets (Endpoint, Provisioned); wait_until
"""

from __future__ import annotations

from types import ModuleType

from . import consul, postgres, rabbitmq, redis, redis_sentinel
from .containers import first_available
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
    "redis_sentinel": redis_sentinel,
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
    found: Provisioned = first_available(name, module.from_env, module.in_docker, module.as_process)
    return found
