"""Redis: from REDIS_URL, a testcontainers container, or `redis-server` on a free port."""

from __future__ import annotations

import os
import shutil
import time
from urllib.parse import unquote, urlsplit

from .base import (
    CallbackController,
    Endpoint,
    ManagedProcess,
    Provisioned,
    ServerStartError,
    ServerUnavailable,
    container_controller,
    container_log_tail,
    free_ports,
    make_workdir,
    remove_workdir,
    tail_file,
    wait_until,
)

ENV = "REDIS_URL"
IMAGE = os.environ.get("REDIS_IMAGE", "redis:7.4-alpine")
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
    url = os.environ.get(ENV)
    if not url:
        return None
    parts = urlsplit(url)
    endpoint = Endpoint(
        name="redis",
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 6379,
        url=url,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        source="env",
    )
    if not can_ping(url):
        raise ServerStartError(
            f"{ENV} is set but no Redis answers at {endpoint.host}:{endpoint.port}"
        )
    return Provisioned(endpoint)


def in_docker() -> Provisioned:
    from testcontainers.community.redis import RedisContainer

    (host_port,) = free_ports(1)
    container = RedisContainer(IMAGE)
    container.with_bind_ports(6379, host_port)
    started = time.monotonic()
    container.start()
    startup = time.monotonic() - started
    host = container.get_container_host_ip()
    url = f"redis://{host}:{host_port}/0"
    endpoint = Endpoint(
        name="redis",
        host=host,
        port=host_port,
        url=url,
        source="docker",
        controller=container_controller(container, lambda: can_ping(url), "redis container"),
        startup_seconds=startup,
        log_tail=container_log_tail(container),
    )
    return Provisioned(endpoint, close=container.stop)


def as_process() -> Provisioned:
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerUnavailable(f"Redis unavailable (no redis-server binary): {HOW_TO}")
    workdir = make_workdir("redis")
    (port,) = free_ports(1)
    url = f"redis://127.0.0.1:{port}/0"
    log = workdir / "server.log"
    process = ManagedProcess(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        log=log,
        cwd=workdir,
    )

    def start() -> None:
        process.spawn()
        wait_until(lambda: can_ping(url), timeout=30, what="redis-server", alive=process.alive)

    def close() -> None:
        process.terminate(timeout=10)
        remove_workdir(workdir)

    started = time.monotonic()
    try:
        start()
    except Exception as exc:
        text = tail_file(log, 40)
        close()
        raise ServerStartError(f"{exc}\n--- redis log ---\n{text}") from exc
    endpoint = Endpoint(
        name="redis",
        host="127.0.0.1",
        port=port,
        url=url,
        source="process",
        controller=CallbackController(lambda: process.terminate(timeout=10), start),
        startup_seconds=time.monotonic() - started,
        log_tail=lambda lines: tail_file(log, lines),
    )
    return Provisioned(endpoint, close=close)
