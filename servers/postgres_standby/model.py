"""What a test gets: a primary and its streaming standby (`StandbyPair`), with the faults a
test can cause when the servers are ours."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..postgres import url_for

IMAGE = os.environ.get("POSTGRES_IMAGE", "postgres:15-alpine")
#: mounted into the Docker primary's /docker-entrypoint-initdb.d (docker-compose.test.yml too)
HBA_SCRIPT = Path(__file__).with_name("postgres_replication.sh")


def cluster_url(hosts: list[tuple[str, int]], user: str, password: str, dbname: str) -> str:
    """postgresql://user:pass@h1:p1,h2:p2/db?target_session_attrs=read-write"""
    single = url_for(hosts[0][0], hosts[0][1], user, password, dbname)
    netloc = ",".join(f"{host}:{port}" for host, port in hosts)
    first = f"{hosts[0][0]}:{hosts[0][1]}"
    return single.replace(f"@{first}/", f"@{netloc}/") + "?target_session_attrs=read-write"


@dataclass
class StandbyPair:
    """Two servers streaming from one to the other. `url` reaches whichever is the primary;
    `primary_url`/`standby_url` one server each. Faults are None when we do not own them."""

    url: str
    primary_url: str
    standby_url: str
    synchronous: bool
    source: str
    stop_primary_hard: Callable[[], None] | None = None
    promote_standby: Callable[[], None] | None = None
    #: SIGSTOP (True) or SIGCONT (False) the standby's WAL receiver
    hold_receiver: Callable[[bool], None] | None = None
    close: Callable[[], None] = field(default=lambda: None, repr=False)
    log_tail: Callable[[int], str] | None = field(default=None, repr=False)

    @property
    def owned(self) -> bool:
        return self.stop_primary_hard is not None and self.promote_standby is not None

    def replay_caught_up(self) -> bool:
        """Has the standby replayed everything the primary has written (a quiet moment)?"""
        import psycopg

        with psycopg.connect(self.primary_url, autocommit=True, connect_timeout=3) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_replication WHERE replay_lsn = pg_current_wal_lsn()"
            ).fetchone()
        return bool(row and row[0] == 1)
