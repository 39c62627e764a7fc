"""Consul: from CONSUL_HTTP_ADDR, a hashicorp/consul container, or `consul agent -dev` (PATH)."""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from urllib.parse import urlsplit

from .containers import run_container
from .endpoint import Provisioned, ServerUnavailable
from .environment import from_env_url
from .process import free_ports, make_workdir, process_env, start_one_process

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


def _http_url(addr: str) -> str:
    """CONSUL_HTTP_ADDR is host:port or a URL; the endpoint's URL is scheme://host:port."""
    parts = urlsplit(addr if "://" in addr else f"http://{addr}")
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 8500}"


def from_env() -> Provisioned | None:
    return from_env_url(
        "consul",
        ENV,
        default_port=8500,
        ready=has_leader,
        unreachable="no Consul leader answers at {url}",
        default_password=os.environ.get("CONSUL_HTTP_TOKEN", ""),
        normalize=_http_url,
    )


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
    # The host's network: the agent's HTTP checks must reach services tests run on 127.0.0.1.
    container = DockerContainer(IMAGE).with_kwargs(network_mode="host")
    container.with_command(_agent_args(*ports))
    return run_container(
        "consul",
        container,
        port=ports[0],
        host="127.0.0.1",
        url=lambda host: f"http://{host}:{ports[0]}",
        ready=has_leader,
        wait_ready=True,
    )


def as_process() -> Provisioned:
    binary = shutil.which("consul")
    if binary is None:
        raise ServerUnavailable(
            f"Consul unavailable (no CONSUL_HTTP_ADDR, Docker or consul binary): {HOW_TO}"
        )
    workdir = make_workdir("consul")
    http, server, serf_lan, serf_wan = free_ports(4)
    return start_one_process(
        "consul",
        [binary, *_agent_args(http, server, serf_lan, serf_wan), f"-data-dir={workdir / 'data'}"],
        workdir=workdir,
        env=process_env(HOME=str(workdir)),
        port=http,
        url=f"http://127.0.0.1:{http}",
        ready=has_leader,
        what="consul agent",
        timeout=60,
        interval=0.1,
    )
