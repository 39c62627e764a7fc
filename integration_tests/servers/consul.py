"""Consul: from CONSUL_HTTP_ADDR, a hashicorp/consul container, or `consul agent -dev` (PATH)."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from urllib.parse import urlsplit

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

ENV = "CONSUL_HTTP_ADDR"
IMAGE = os.environ.get("CONSUL_IMAGE", "hashicorp/consul:1.21")
HOW_TO = (
    "set CONSUL_HTTP_ADDR=127.0.0.1:8500 (e.g. after "
    "`docker compose -f docker-compose.test.yml up -d consul`), start a Docker engine "
    "(testcontainers), or put a `consul` binary on PATH "
    "(https://developer.hashicorp.com/consul/install)"
)


def has_leader(url: str) -> bool:
    """A dev agent is ready when /v1/status/leader names a leader (the body is "" before)."""
    try:
        with urllib.request.urlopen(f"{url}/v1/status/leader", timeout=2) as response:  # noqa: S310
            return bool(json.loads(response.read() or b'""'))
    except (OSError, ValueError):
        return False


def from_env() -> Provisioned | None:
    addr = os.environ.get(ENV)
    if not addr:
        return None
    url = addr if "://" in addr else f"http://{addr}"
    parts = urlsplit(url)
    endpoint = Endpoint(
        name="consul",
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 8500,
        url=f"{parts.scheme}://{parts.hostname}:{parts.port or 8500}",
        password=os.environ.get("CONSUL_HTTP_TOKEN", ""),
        source="env",
    )
    if not has_leader(endpoint.url):
        raise ServerStartError(f"{ENV} is set but no Consul leader answers at {endpoint.url}")
    return Provisioned(endpoint)


def _agent_args(http: int, server: int, serf_lan: int, serf_wan: int) -> list[str]:
    return [
        "agent",
        "-dev",
        "-bind=127.0.0.1",
        "-client=127.0.0.1",
        f"-http-port={http}",
        "-dns-port=-1",
        "-grpc-port=-1",
        f"-server-port={server}",
        f"-serf-lan-port={serf_lan}",
        f"-serf-wan-port={serf_wan}",
    ]


def in_docker() -> Provisioned:
    from testcontainers.core.container import DockerContainer

    ports = free_ports(4)
    url = f"http://127.0.0.1:{ports[0]}"
    # The host's network: the agent's HTTP checks must reach services tests run on 127.0.0.1.
    container = DockerContainer(IMAGE).with_kwargs(network_mode="host")
    container.with_command(_agent_args(*ports))
    started = time.monotonic()
    container.start()
    try:
        wait_until(lambda: has_leader(url), timeout=120, interval=0.25, what="consul container")
    except ServerStartError:
        container.stop()
        raise
    endpoint = Endpoint(
        name="consul",
        host="127.0.0.1",
        port=ports[0],
        url=url,
        source="docker",
        controller=container_controller(container, lambda: has_leader(url), "consul container"),
        startup_seconds=time.monotonic() - started,
        log_tail=container_log_tail(container),
    )
    return Provisioned(endpoint, close=container.stop)


def as_process() -> Provisioned:
    binary = shutil.which("consul")
    if binary is None:
        raise ServerUnavailable(
            f"Consul unavailable (no CONSUL_HTTP_ADDR, Docker or consul binary): {HOW_TO}"
        )
    workdir = make_workdir("consul")
    http, server, serf_lan, serf_wan = free_ports(4)
    url = f"http://127.0.0.1:{http}"
    log = workdir / "server.log"
    process = ManagedProcess(
        [
            binary,
            *_agent_args(http, server, serf_lan, serf_wan),
            f"-data-dir={workdir / 'data'}",
        ],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir)},
        log=log,
        cwd=workdir,
    )

    def start() -> None:
        process.spawn()
        wait_until(
            lambda: has_leader(url),
            timeout=60,
            interval=0.1,
            what="consul agent",
            alive=process.alive,
        )

    def close() -> None:
        process.terminate(timeout=10)
        remove_workdir(workdir)

    started = time.monotonic()
    try:
        start()
    except Exception as exc:
        text = tail_file(log, 40)
        close()
        raise ServerStartError(f"{exc}\n--- consul log ---\n{text}") from exc
    endpoint = Endpoint(
        name="consul",
        host="127.0.0.1",
        port=http,
        url=url,
        source="process",
        controller=CallbackController(lambda: process.terminate(timeout=10), start),
        startup_seconds=time.monotonic() - started,
        log_tail=lambda lines: tail_file(log, lines),
    )
    return Provisioned(endpoint, close=close)
