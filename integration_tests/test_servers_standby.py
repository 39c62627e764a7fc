"""The primary/standby pair the promotion tests stand on: streaming, reached through one
multi-host URL before and after a promotion, and an address in the environment checked."""

from __future__ import annotations

import psycopg
import pytest

from servers import ServerStartError
from servers import postgres_standby as pair_server


def served_by(url: str) -> tuple[int, bool]:
    """(port, in recovery) of the server a URL reaches."""
    with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
        row = conn.execute("SELECT inet_server_port(), pg_is_in_recovery()").fetchone()
    assert row is not None
    return int(row[0]), bool(row[1])


def port_of(url: str) -> int:
    return int(url.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def test_the_multi_host_url_reaches_the_primary_then_the_promoted_standby(postgres_standby):
    """Before: the primary (read-write) answers, the standby is in recovery. After the primary
    is stopped hard and the standby promoted, the same URL reaches the standby, writable."""
    pair = postgres_standby
    if not pair.owned:
        pytest.skip("the pair comes from DATABASE_CLUSTER_URL: not ours to stop or promote")
    primary, standby = port_of(pair.primary_url), port_of(pair.standby_url)
    assert served_by(pair.url) == (primary, False)
    assert served_by(pair.standby_url) == (standby, True)
    pair.stop_primary_hard()
    pair.promote_standby()
    assert served_by(pair.url) == (standby, False)


def test_a_cluster_address_naming_one_host_is_refused(monkeypatch):
    """DATABASE_CLUSTER_URL with a single host is a mistake, reported by name."""
    monkeypatch.setenv(pair_server.ENV, "postgresql://u:p@127.0.0.1:5432/db")
    with pytest.raises(ServerStartError, match="DATABASE_CLUSTER_URL must be"):
        pair_server.from_env()
