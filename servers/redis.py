"""Redis: from REDIS_URL, a testcontainers container, or `redis-server` on a free port."""

from __future__ import annotations

import os
import shutil

from .containers import run_container
from .endpoint import Provisioned, ServerUnavailable
from .environment import from_env_url
from .process import free_ports, make_workdir, process_env, start_one_process

ENV = "REDIS_URL"
IMAGE = os.environ.get("REDIS_IMAGE", "redis:7.4-alpine")
# AOF, as Redis Streams need in production (`check --deploy` warns without it): a restart keeps
# the streams and their groups' pending entries. everysec, Redis's default: Redis write()s the
# AOF before it answers, so a process that is stopped or SIGKILLed loses nothing the kernel has;
# only a machine crash loses up to a second, which no test simulates. `always` would fsync every
# XADD for no gain here, on CPUs shared by several test sessions.
PERSISTENCE = ["--appendonly", "yes", "--appendfsync", "everysec"]
HOW_TO = (
    "set REDIS_URL=redis://host:6379/0 (e.g. after "
    "`docker compose -f docker-compose.test.yml up -d redis`), start a Docker engine "
    "(testcontainers), or install the Debian package redis-server"
)


def can_ping(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def from_env() -> Provisioned | None:
    return from_env_url(
        "redis",
        ENV,
        default_port=6379,
        ready=can_ping,
        unreachable="no Redis answers at {host}:{port}",
    )


def in_docker() -> Provisioned:
    from testcontainers.community.redis import RedisContainer

    (port,) = free_ports(1)
    return run_container(
        "redis",
        RedisContainer(IMAGE).with_command(" ".join(["redis-server", *PERSISTENCE])),
        port=port,
        container_port=6379,
        url=lambda host: f"redis://{host}:{port}/0",
        ready=can_ping,
    )


def as_process() -> Provisioned:
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerUnavailable(f"Redis unavailable (no redis-server binary): {HOW_TO}")
    workdir = make_workdir("redis")
    (port,) = free_ports(1)
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir)]
    argv += ["--save", "", *PERSISTENCE, "--daemonize", "no"]
    return start_one_process(
        "redis",
        argv,
        workdir=workdir,
        env=process_env(),
        port=port,
        url=f"redis://127.0.0.1:{port}/0",
        ready=can_ping,
        what="redis-server",
        timeout=30,
    )
