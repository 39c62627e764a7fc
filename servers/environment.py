"""A server named by an address in the environment, and which servers must not be skipped."""

from __future__ import annotations

import os
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from .endpoint import Endpoint, Provisioned, ServerStartError

#: Servers named here (comma list, e.g. "rabbitmq,redis,postgres") must be had: fail, don't skip.
REQUIRE_ENV = "REQUIRE_REAL_SERVICES"


def required_servers() -> set[str]:
    raw = os.environ.get(REQUIRE_ENV, "")
    names = {n.strip().lower() for n in raw.split(",") if n.strip()}
    if "postgresql" in names:
        names.add("postgres")
    return names


def from_env_url(
    name: str,
    env: str,
    *,
    default_port: int,
    ready: Callable[[str], bool],
    unreachable: str,
    default_username: str = "",
    default_password: str = "",
    normalize: Callable[[str], str] = str,
) -> Provisioned | None:
    """The server at the address in env var `env` (None when it is unset), as we don't own it.

    `normalize` turns the address into the endpoint's URL; `ready(url)` must answer, else
    ServerStartError "<env> is set but <unreachable>", `unreachable` formatted with host, port, url.
    """
    address = os.environ.get(env)
    if not address:
        return None
    url = normalize(address)
    parts = urlsplit(url)
    endpoint = Endpoint(
        name=name,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or default_port,
        url=url,
        username=unquote(parts.username) if parts.username else default_username,
        password=unquote(parts.password) if parts.password else default_password,
        source="env",
    )
    if not ready(url):
        where = {"host": endpoint.host, "port": endpoint.port, "url": url}
        raise ServerStartError(f"{env} is set but {unreachable.format(**where)}")
    return Provisioned(endpoint)
