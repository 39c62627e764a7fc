"""The primary/standby pair as two testcontainers containers on a network of their own, the
same recipe as docker-compose.test.yml's `standby` profile: the primary admits replication
(postgres_replication.sh), the standby starts from `pg_basebackup -R` of it."""

from __future__ import annotations

import secrets
from typing import Any

from ..endpoint import ServerStartError
from ..postgres import can_query, url_for
from ..process import free_ports
from ..readiness import wait_until_ready
from .model import HBA_SCRIPT, IMAGE, StandbyPair, cluster_url

DATA = "/var/lib/postgresql/data"


#: the standby's whole life: a base backup of the primary once, then postgres as a standby (it
#: clears synchronous_standby_names, which a promotion would otherwise inherit)
STANDBY_SCRIPT = (
    f"[ -s {DATA}/PG_VERSION ] || pg_basebackup -h primary -U postgres -D {DATA} "
    "-R -X stream -c fast && exec postgres -c fsync=off -c synchronous_standby_names="
)


def in_docker(*, synchronous: bool) -> StandbyPair:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.network import Network

    port, standby_port = free_ports(2)
    password = secrets.token_hex(8)
    network = Network()
    network.create()
    primary: Any = (
        DockerContainer(IMAGE)
        .with_network(network)
        .with_network_aliases("primary")
        .with_envs(POSTGRES_USER="postgres", POSTGRES_PASSWORD=password, POSTGRES_DB="postgres")
        .with_volume_mapping(str(HBA_SCRIPT), "/docker-entrypoint-initdb.d/10-replication.sh")
        .with_bind_ports(5432, port)
        .with_command(
            "postgres -c fsync=off -c synchronous_standby_names=" + ("*" if synchronous else "''")
        )
    )
    standby: Any = (
        DockerContainer(IMAGE)
        .with_network(network)
        .with_env("PGPASSWORD", password)
        .with_bind_ports(5432, standby_port)
        .with_kwargs(user="postgres", entrypoint=["sh", "-c"])
        .with_command([STANDBY_SCRIPT])
    )
    primary_url = url_for("127.0.0.1", port, "postgres", password, "postgres")
    standby_url = url_for("127.0.0.1", standby_port, "postgres", password, "postgres")
    started: list[Any] = []

    def close() -> None:
        for container in reversed(started):
            container.stop()
        network.remove()

    def stop_primary_hard() -> None:
        primary.get_wrapped_container().kill()  # SIGKILL of the postmaster (PID 1)

    def promote_standby() -> None:
        result = standby.get_wrapped_container().exec_run(
            ["pg_ctl", "promote", "-w", "-D", DATA], user="postgres"
        )
        if result.exit_code != 0:
            raise ServerStartError(f"pg_ctl promote failed: {result.output!r}")

    def hold_receiver(hold: bool) -> None:
        signal_name = "STOP" if hold else "CONT"
        standby.get_wrapped_container().exec_run(
            ["sh", "-c", f"pkill -{signal_name} -f 'walreceiver'"], user="postgres"
        )

    try:
        primary.start()
        started.append(primary)
        wait_until_ready(lambda: can_query(primary_url), timeout=120, what="primary container")
        standby.start()
        started.append(standby)
        wait_until_ready(lambda: can_query(standby_url), timeout=120, what="standby container")
    except Exception:
        close()
        raise
    return StandbyPair(
        url=cluster_url(
            [("127.0.0.1", port), ("127.0.0.1", standby_port)], "postgres", password, "postgres"
        ),
        primary_url=primary_url,
        standby_url=standby_url,
        synchronous=synchronous,
        source="docker",
        stop_primary_hard=stop_primary_hard,
        promote_standby=promote_standby,
        hold_receiver=hold_receiver,
        close=close,
    )
