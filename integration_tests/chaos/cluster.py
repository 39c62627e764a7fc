"""A chaos run whose events cross a three-node RabbitMQ cluster: the sagas' outbox rows go out
through `manage.py relay_outbox` and come back through two `manage.py consume_events` processes
(the inbox, a window of 10), while the test SIGKILLs nodes under them.

Every process is given every node (RABBITMQ_URL, comma-separated) and finds its own; which node
each one is on is read from its sockets (sockets.py), so the test kills the node the relay is on,
then one a consumer is on, then the one holding the queue's leader, each restarted (and rejoined)
before the next. Nothing is restarted on our side: the relay and the consumers fail over alone.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db.models import Count, Max, Min
from tests.shop.support import Shop

from django_interlink.events.rabbitmq_topology import Topology
from django_interlink.models import InboxEvent, OutboxEvent, OutboxStatus
from integration_tests.helpers import manage_py_argv
from integration_tests.servers.rabbitmq_cluster import ClusterNode, RabbitCluster
from mock_services.testing import StubServer
from mock_services.waiting import WaitTimeout, wait_until

from .checks import check_events_handled_once
from .handlers import EVENT_TYPES, applications
from .run import ChaosRun, tolerant
from .sockets import remote_ports

CONSUMERS = 2
WINDOW = 10
#: the queue whose leader the third kill aims at (the saga's busiest event)
LEADER_OF = "order.created"
LEADER = "queue leader"  # the third kill's role
# Seconds to wait for the run to move on: generous, as a shared machine may be very busy
# (processes starting, a node rejoining); never a measure of speed.
WAIT = 300.0


class Process:
    """A manage.py command in its own process, its output in files (nobody reads a pipe)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.out, self.err = logs / f"{name}.out", logs / f"{name}.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.popen = subprocess.Popen(argv, env=env, stdout=out, stderr=err)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 30) -> tuple[int | None, str]:
        """SIGTERM (it finishes what it holds), then its exit code and stderr."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        return self.popen.returncode, self.err.read_text()


@dataclass
class Kill:
    """One node SIGKILLed: whose it was, when, what was in flight, and how things carried on."""

    role: str  # "relay", "consumer" or "queue leader"
    node: str
    killed_at: float  # time.time()
    outbox_pending_at_kill: int
    clients: list[str] = field(default_factory=list)  # the processes connected to it
    # client -> from the kill to its connection to a live node, while the node was still down
    reconnected_s: dict[str, float] = field(default_factory=dict)
    restart_and_rejoin_s: float = 0.0  # from the end of `down` to the node running
    replicas_online_s: float = 0.0  # ... to its replicas of this run's queues online
    # from the kill to the first outbox row the relay marked sent (its publish confirmed)
    first_confirmed_publish_s: float | None = None
    # from the kill to the first inbox row a consumer committed (a message handled)
    first_handled_s: float | None = None


def _seconds_after(moment: float, found: Any) -> float | None:
    return None if found is None else round(found.timestamp() - moment, 3)


class ClusterRun(ChaosRun):
    def __init__(
        self,
        name: str,
        shop: Shop,
        stubs: dict[str, StubServer],
        token: str,
        workdir: Path,
        *,
        cluster: RabbitCluster,
        sagas: int,
        interval: float,
    ) -> None:
        super().__init__(name, shop, stubs, token, workdir, sagas=sagas, interval=interval)
        self.cluster = cluster
        self.group = f"chaos{uuid.uuid4().hex[:8]}"  # also the exchange: this run's own
        self.bus_env = {**self.env, "EVENT_BUS_BACKEND": "rabbitmq", "RABBITMQ_URL": cluster.url}
        self.relay: Process | None = None
        self.consumers: list[Process] = []
        self.kills: list[Kill] = []

    def _consume_argv(self, *extra: str) -> list[str]:
        return manage_py_argv(
            "consume_events",
            *EVENT_TYPES,
            "--bus",
            "rabbitmq",
            "--group",
            self.group,
            "--exchange",
            self.group,
            "--handler-module",
            "shop.handlers",
            "--handler-module",
            "integration_tests.chaos.handlers",
            *extra,
        )

    def start(self) -> ClusterRun:
        # The queues exist before the first publish: an unroutable event is refused, not lost.
        declared = subprocess.run(
            self._consume_argv("--declare-only"),
            env=self.bus_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert declared.returncode == 0, declared.stderr[-3000:]
        self.consumers = [
            Process(
                f"consumer-{n}",
                self._consume_argv("--window", str(WINDOW)),
                self.bus_env,
                self.workdir,
            )
            for n in range(CONSUMERS)
        ]
        relay_argv = manage_py_argv(
            "relay_outbox", "--bus", "rabbitmq", "--exchange", self.group, "--interval", "0.1"
        )
        self.relay = Process("relay", relay_argv, self.bus_env, self.workdir)
        super().start()
        return self

    def stop(self) -> None:
        """Stop everything (a fixture's teardown); a failed test's report shows their logs."""
        super().stop()
        for process in [*self.consumers, *([self.relay] if self.relay else [])]:
            code, err = process.stop(timeout=10)
            print(f"--- {process.name} exited {code}; its log's end ---\n{err[-2000:]}")
        if self.cluster.ctl is not None and any(n.running for n in self.cluster.nodes):
            columns = ["name", "leader", "members", "online", "messages"]
            with contextlib.suppress(Exception):  # a diagnosis only: never hide the failure
                queues = self.cluster.ctl(["list_queues", *columns, "--formatter", "json"], None)
                print(f"--- the cluster's queues at the end ---\n{queues}")

    # -- while it runs ---------------------------------------------------------------------

    def node_of(self, process: Process) -> ClusterNode:
        """The node `process` is connected to now (waits while it is between nodes)."""
        found: list[ClusterNode] = []

        def connected() -> bool:
            ports = remote_ports(process.pid)
            found[:] = [n for n in self.cluster.nodes if n.running and n.port in ports]
            return len(found) == 1 or not process.alive()

        wait_until(connected, timeout=30, interval=0.1, what=f"{process.name} on one node")
        assert process.alive(), process.err.read_text()[-3000:]
        return found[0]

    def relay_node(self) -> ClusterNode:
        assert self.relay is not None
        return self.node_of(self.relay)

    def consumer_node(self) -> ClusterNode:
        return self.node_of(self.consumers[0])

    def leader_node(self) -> ClusterNode:
        return self.cluster.queue_leader(Topology.queue_name(self.group, LEADER_OF))

    def handled(self) -> int:
        """Inbox rows committed so far (one per event and handler)."""
        return tolerant(lambda: InboxEvent.objects.count(), 0)

    def clients(self) -> list[Process]:
        assert self.relay is not None
        return [self.relay, *self.consumers]

    def _on_node(self, process: Process, node: ClusterNode) -> bool:
        return node.port in remote_ports(process.pid)

    def kill(self, role: str, node: ClusterNode, down: float) -> Kill:
        """SIGKILL `node` while outbox rows wait to be published, keep it down `down` s while
        watching its clients reconnect to the other nodes, restart it (it rejoins), then wait
        until a message is handled after the restart: the next kill meets a flowing run."""
        with contextlib.suppress(WaitTimeout):  # a quiet moment is no reason to give up
            wait_until(
                lambda: OutboxEvent.objects.filter(status=OutboxStatus.PENDING).exists(),
                timeout=10,
                interval=0.01,
                what="outbox rows to publish",
            )
        on_it = [p for p in self.clients() if self._on_node(p, node)]
        pending = OutboxEvent.objects.filter(status=OutboxStatus.PENDING).count()
        killed = time.time()
        kill = Kill(role, node.name, killed, pending, clients=[p.name for p in on_it])
        with self.timeline.fault("node killed", f"{node.name} ({role})"):
            node.kill()
            self._watch_moving(kill, on_it, down)
            node.restart()
            kill.restart_and_rejoin_s = round(time.time() - killed - down, 2)
            # the next kill must leave a majority of each queue's replicas
            wait_until(
                lambda: self.cluster.offline_members(f"{self.group}.") == {},
                timeout=WAIT,
                interval=0.2,
                what=f"the replicas on {node.name} online",
            )
        kill.replicas_online_s = round(time.time() - killed - down, 2)
        # Each client of the killed node moved to a live one while it was down: none waited
        # for its node to come back (checked now, so a client that does not move fails here).
        assert (node.name, sorted(kill.reconnected_s)) == (node.name, sorted(kill.clients))
        self.kills.append(kill)
        since = time.time()
        self.wait_for(
            lambda: tolerant(
                lambda: InboxEvent.objects.filter(processed_at__gt=_aware(since)).exists(), False
            ),
            f"a message handled after {node.name} came back",
            timeout=WAIT,
        )
        return kill

    def _watch_moving(self, kill: Kill, clients: list[Process], down: float) -> None:
        """While the node is down: when each of its clients is connected to a live node."""
        others = {n.port for n in self.cluster.nodes if n.running}
        deadline = time.monotonic() + down
        while time.monotonic() < deadline and not self.workers.exited():
            for process in clients:
                if process.name not in kill.reconnected_s and remote_ports(process.pid) & others:
                    kill.reconnected_s[process.name] = round(time.time() - kill.killed_at, 3)
            time.sleep(0.05)

    # -- after it --------------------------------------------------------------------------

    def after_sagas_ended(self, timeout: float) -> dict[str, Any]:
        """Wait until the outbox is sent and every event handled, stop the relay and the
        consumers (each must exit 0: it never needed a restart), and measure the events."""
        with contextlib.suppress(WaitTimeout):  # the checks then say what is missing
            wait_until(
                lambda: (
                    not OutboxEvent.objects.filter(status=OutboxStatus.PENDING).exists()
                    and len(applications()) >= OutboxEvent.objects.count()
                ),
                timeout=timeout,
                interval=0.5,
                what="every outbox event sent and handled",
            )
        assert self.relay is not None
        stopped = {p.name: p.stop() for p in [self.relay, *self.consumers]}
        assert {name: code for name, (code, _) in stopped.items()} == dict.fromkeys(stopped, 0), {
            name: err[-3000:] for name, (_, err) in stopped.items()
        }
        for kill in self.kills:
            moment = _aware(kill.killed_at)
            kill.first_confirmed_publish_s = _seconds_after(
                kill.killed_at,
                OutboxEvent.objects.filter(sent_at__gt=moment).aggregate(t=Min("sent_at"))["t"],
            )
            kill.first_handled_s = _seconds_after(
                kill.killed_at,
                InboxEvent.objects.filter(processed_at__gt=moment).aggregate(t=Min("processed_at"))[
                    "t"
                ],
            )
        applied = applications()
        outbox = OutboxEvent.objects.count()
        ids = {str(i) for i in OutboxEvent.objects.values_list("event_id", flat=True)}
        relay_log = stopped["relay"][1]
        consumer_logs = "".join(err for name, (_, err) in stopped.items() if name != "relay")
        return {
            "cluster": {
                "source": self.cluster.source,
                "nodes": [n.name for n in self.cluster.nodes],
                "consumers": CONSUMERS,
                "consume_window": WINDOW,
            },
            "node_kills": [asdict(k) for k in self.kills],
            "events": {
                "outbox": outbox,
                "by_type": dict(
                    OutboxEvent.objects.values_list("event_type")
                    .annotate(n=Count("id"))
                    .order_by("event_type")
                ),
                "outbox_by_status": dict(
                    OutboxEvent.objects.values_list("status").annotate(n=Count("id"))
                ),
                "handled": sum(1 for i in ids if applied.get(i, 0) >= 1),
                "lost": sum(1 for i in ids if i not in applied),
                "applied_twice": sum(1 for count in applied.values() if count > 1),
                "handled_not_in_outbox": len(set(applied) - ids),
                "last_handled_at": str(InboxEvent.objects.aggregate(t=Max("processed_at"))["t"]),
                # a failover is logged once per lost connection
                "relay_publish_failovers": relay_log.count("publish to "),
                "consumer_reconnects": consumer_logs.count("consumer lost"),
            },
        }

    def check_more(self, figures: dict[str, Any]) -> None:
        # The relay's and the consumer's kills hit them (the leader's may hit no client).
        for kill in self.kills:
            if kill.role != LEADER:
                assert (kill.role, kill.clients != []) == (kill.role, True)
        check_events_handled_once()


def _aware(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, tz=UTC)
