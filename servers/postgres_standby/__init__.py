"""A PostgreSQL primary and a streaming standby: from DATABASE_CLUSTER_URL, two testcontainers
containers, or two local servers.

The pair hands tests a libpq multi-host URL (primary first, `target_session_attrs=read-write`)
and, when we own the servers, the faults: the primary stopped hard, the standby promoted, the
standby's WAL receiver held back (SIGSTOP) so that asynchronous replication lags for real.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from ..containers import first_available
from ..endpoint import ServerStartError
from ..postgres import can_query
from .docker import in_docker
from .local import as_processes
from .model import StandbyPair

__all__ = ["ENV", "StandbyPair", "as_processes", "provide"]

ENV = "DATABASE_CLUSTER_URL"


def from_env() -> StandbyPair | None:
    url = os.environ.get(ENV)
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"} or "," not in parts.netloc:
        raise ServerStartError(f"{ENV} must be postgresql://u:p@primary:port,standby:port/db")
    if not can_query(url):
        raise ServerStartError(f"{ENV} is set but no read-write server answers there")
    return StandbyPair(url, url, url, synchronous=False, source="env")


def provide(*, synchronous: bool) -> StandbyPair:
    """The environment's pair, else Docker's, else two local servers."""
    return first_available(
        "postgres pair",
        from_env,
        lambda: in_docker(synchronous=synchronous),
        lambda: as_processes(synchronous=synchronous),
    )
