"""Faults below HTTP under a run of order sagas, each against real processes: a stub process
stopped for 30 s (its port closed: connections refused), the registry with no instance of a
service for 10 s, PostgreSQL restarted under the workers; and on a three-node RabbitMQ cluster,
the nodes under the outbox relay and the consumers SIGKILLed one after another.

Sagas are stored at a steady pace while three `manage.py resume_sagas` processes run them
(chaos/run.py says why processes); some are declined, some undo a charge (their buyer's mail
bounces). Once the fault has cleared and the waits have run out, every saga must be COMPLETED
or COMPENSATED, none NEEDS_ATTENTION, stock conserved, no charge without an order, no charge
made by an undo, and the outbox must tell what the services hold (chaos/checks.py); on the
cluster, every outbox event published and handled exactly once too. Each run's figures are
printed and written to reports/chaos/<name>.json.
"""

from __future__ import annotations

import pytest
from django.test import override_settings
from tests.shop.support import Shop

from django_interlink.models import SagaStepLog
from integration_tests.chaos.cluster import LEADER, WAIT, ClusterRun
from integration_tests.chaos.registry import write_instances
from integration_tests.chaos.run import ChaosRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def shop(postgres, services_settings, reset_stubs):
    with override_settings(INTERLINK=services_settings):
        s = Shop(reset_stubs)
        yield s
        s.close()


@pytest.fixture
def chaos(shop, stubs, stub_token, tmp_path):
    """A ChaosRun factory; whatever happens, its feeder and workers are stopped."""
    runs: list[ChaosRun] = []

    def make(name: str, **options) -> ChaosRun:
        run = ChaosRun(name, shop, stubs, stub_token, tmp_path, **options)
        runs.append(run)
        return run.start()

    yield make
    for run in runs:
        run.stop()


@pytest.fixture
def cluster_chaos(shop, stubs, stub_token, tmp_path, cluster):
    """A ClusterRun factory on the three-node cluster; its processes are stopped whatever
    happens (and the `cluster` fixture restarts a node left killed)."""
    if not all(node.can_kill for node in cluster.nodes) or cluster.ctl is None:
        pytest.skip("the cluster comes from RABBITMQ_URLS: its nodes are not ours to kill")
    runs: list[ClusterRun] = []

    def make(name: str, **options) -> ClusterRun:
        run = ClusterRun(name, shop, stubs, stub_token, tmp_path, cluster=cluster, **options)
        runs.append(run)
        return run.start()

    yield make
    for run in runs:
        run.stop()


def test_payments_stopped_for_30s_mid_run_every_saga_ends_clean(chaos, stubs):
    """Payments' process stopped for 30 s while 70 sagas run, one charged saga about to be
    undone: sagas that reach the charge meanwhile compensate without replaying it, the refund
    that cannot reach payments waits while the stock is released, and it is refunded once
    payments is back."""
    run = chaos("stub-stopped", sagas=70, interval=0.75)
    run.wait_for(
        lambda: run.ended() >= 10 and run.a_charge_to_undo_is_coming(),
        "a charged saga about to be undone, ten sagas in",
    )
    with run.timeline.fault("stub stopped", "payments") as outage, stubs["payments"].stopped():
        run.hold(30)
    run.finish()
    run.check_stock_released_while_refunds_waited(outage)
    run.check_plain_orders_complete_after(outage)


def test_registry_with_no_payments_instance_for_10s_every_saga_ends_clean(chaos):
    """With discovery on, the static registry lists no payments instance for 10 s: the calls
    never leave (ABSENT), the undos that need payments wait, and all end once it is back."""
    run = chaos("registry-empty", sagas=60, interval=0.4, discovery=True)
    run.wait_for(
        lambda: run.ended() >= 10 and run.a_charge_to_undo_is_coming(),
        "a charged saga about to be undone, ten sagas in",
    )
    with run.timeline.fault("registry empty", "payments") as outage:
        write_instances(run.instances, {"payments": []})
        run.hold(10)
        write_instances(run.instances, {})
    run.finish()
    run.check_stock_released_while_refunds_waited(outage)
    run.check_plain_orders_complete_after(outage)


def test_postgres_restarted_under_the_workers_every_saga_ends_clean(chaos, shop, postgres):
    """PostgreSQL stopped for 4 s and started again while a worker waits on a call: the run it
    cannot record is cut short and resumed once its lease lapses, the workers wait the outage
    out, and every saga ends clean."""
    if postgres.controller is None:
        pytest.skip("this PostgreSQL is not ours to restart (DATABASE_URL)")
    # Orders answers after 0.5 s, so a saga is in a call when the database goes.
    shop.faults("orders").add(method="POST", path="/orders", kind="latency", delay=0.5, times=0)
    run = chaos("database-restarted", sagas=50, interval=0.3)
    run.wait_for(
        lambda: (
            run.ended() >= 10
            and SagaStepLog.objects.filter(step_name="create_order", finished_at=None).exists()
        ),
        "ten sagas in, one waiting on orders",
    )
    with run.timeline.fault("database restarted", "postgresql") as outage:
        postgres.controller.stop()
        run.hold(4)
        postgres.controller.start()
    figures = run.finish()
    # The workers met the outage and lived through it; a run it cut short was resumed.
    assert figures["worker_database_errors"] > 0
    assert figures["attempts_cut_short"] > 0
    run.check_plain_orders_complete_after(outage)


@pytest.mark.timeout(1800)  # three nodes restarted, each in 5-30 s (or more on a busy machine)
def test_cluster_nodes_killed_under_relay_and_consumers_every_event_handled_once(cluster_chaos):
    """Sagas publish through the outbox, `relay_outbox` and two `consume_events` processes on a
    three-node RabbitMQ cluster while three nodes are SIGKILLed in turn (each restarted and
    rejoined before the next): the relay's, a consumer's, the order.created queue's leader.
    Every client of a killed node moves to a live one while it is down; every saga ends clean,
    and every outbox event is published and handled exactly once; the relay and the consumers
    were never restarted and exit 0 at the end."""
    # more sagas than the kills need: the feeder is halted after the last one, so events are
    # in flight at every kill and after every restart
    run = cluster_chaos("rabbitmq-cluster", sagas=2000, interval=0.2)
    run.wait_for(lambda: run.handled() >= 20, "twenty events handled", timeout=WAIT)
    run.kill("relay", run.relay_node(), down=5)
    run.kill("consumer", run.consumer_node(), down=5)
    run.kill(LEADER, run.leader_node(), down=5)
    run.feeder.halt()  # enough traffic: what was stored must now end
    figures = run.finish(timeout=WAIT)
    assert [k["role"] for k in figures["node_kills"]] == ["relay", "consumer", LEADER]
