"""A server in a testcontainers container, when a Docker engine answers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from .endpoint import (
    CallbackController,
    Endpoint,
    Provisioned,
    ServerStartError,
    ServerUnavailable,
)
from .readiness import wait_until_ready

_docker_answer: bool | None = None

T = TypeVar("T")


def docker_available() -> bool:
    """True when a Docker engine answers a ping within 3 s (probed once per session)."""
    global _docker_answer
    if _docker_answer is None:
        _docker_answer = False
        try:
            import docker  # here: a missing package is one more way of "no Docker"

            client = docker.from_env(timeout=3)
            try:
                _docker_answer = bool(client.ping())
            finally:
                client.close()
        except Exception:
            _docker_answer = False
    return _docker_answer


def container_controller(
    container: Any, ready: Callable[[], bool], what: str
) -> CallbackController:
    """Stop/start a testcontainers container in place (its host ports are bound, so they stay)."""

    def stop() -> None:
        container.get_wrapped_container().stop(timeout=20)

    def start() -> None:
        container.get_wrapped_container().start()
        wait_until_ready(ready, timeout=120, interval=0.25, what=what)

    return CallbackController(stop, start)


def container_log_tail(container: Any) -> Callable[[int], str]:
    def tail(lines: int) -> str:
        try:
            raw = container.get_wrapped_container().logs(tail=lines)
        except Exception as exc:
            return f"(no container log: {exc})"
        return bytes(raw).decode(errors="replace")

    return tail


def run_container(
    name: str,
    container: Any,
    *,
    port: int,
    url: Callable[[str], str],
    ready: Callable[[str], bool],
    container_port: int | None = None,
    host: str | None = None,
    wait_ready: bool = False,
    username: str = "",
    password: str = "",
) -> Provisioned:
    """Start a testcontainers `container` and describe it; `url(host)` is its address.

    `container_port` is bound to `port` on the host (a fixed host port: a restart keeps the
    address); without it the container shares the host's network and `host` is given.
    `wait_ready`: poll `ready(url)` after start (for a container with no wait strategy of its own).
    """
    if container_port is not None:
        container.with_bind_ports(container_port, port)
    what = f"{name} container"
    started = time.monotonic()
    container.start()
    startup = time.monotonic() - started
    where: str = host or container.get_container_host_ip()
    address = url(where)
    if wait_ready:
        try:
            wait_until_ready(lambda: ready(address), timeout=120, interval=0.25, what=what)
        except ServerStartError:
            container.stop()
            raise
        startup = time.monotonic() - started
    endpoint = Endpoint(
        name=name,
        host=where,
        port=port,
        url=address,
        username=username,
        password=password,
        source="docker",
        controller=container_controller(container, lambda: ready(address), what),
        startup_seconds=startup,
        log_tail=container_log_tail(container),
    )
    return Provisioned(endpoint, close=container.stop)


def first_available(
    what: str,
    from_env: Callable[[], T | None],
    in_docker: Callable[[], T],
    as_process: Callable[[], T],
) -> T:
    """The address the environment gives, else a container when Docker answers, else local
    processes. A container that fails (an image that cannot be pulled) falls through to the
    local binaries; if those are missing too, the error names what Docker said."""
    found = from_env()
    if found is not None:
        return found
    docker_error: Exception | None = None
    if docker_available():
        try:
            return in_docker()
        except Exception as exc:  # an image that can't be pulled: try the local binaries
            docker_error = exc
    try:
        return as_process()
    except ServerUnavailable:
        if docker_error is not None:
            raise ServerStartError(f"{what}: Docker failed: {docker_error}") from docker_error
        raise
