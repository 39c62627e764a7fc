"""Events on a three-node RabbitMQ cluster while a node is SIGKILLed mid-stream.

Each test relays 5,000 outbox rows with the real relay and consumes them with a real consumer
process and its inbox (integration_tests/cluster_failover.py), and kills one node while rows are
still being written and published: the relay's, the consumer's, or the quorum queue's leader.
Nothing may be lost or applied twice, and the relay and the consumer must carry on by themselves.
The failover times are printed and written to reports/cluster/kill-<role>.json, never asserted.
"""

from __future__ import annotations

import pika
import pytest

from django_interlink.health import ping_rabbitmq
from django_interlink.models import InboxEvent, OutboxEvent, OutboxStatus
from integration_tests.cluster_failover import run_with_a_node_killed
from integration_tests.event_helpers import applied_counts
from integration_tests.servers.process import free_ports

TOTAL = 5000


def _needs_own_nodes(cluster) -> None:
    if not all(node.can_kill for node in cluster.nodes) or cluster.ctl is None:
        pytest.skip("the cluster comes from RABBITMQ_URLS: its nodes are not ours to kill")


def assert_nothing_lost_nothing_twice(run) -> None:
    figures = run["figures"]
    output = run["consumer_output"][-3000:]
    assert run["errors"] == []
    assert figures["enqueued_at_kill"] < TOTAL  # still writing and publishing at the kill
    assert OutboxEvent.objects.filter(status=OutboxStatus.SENT).count() == TOTAL
    assert applied_counts() == (TOTAL, TOTAL, 0), output  # 0 lost, 0 applied twice
    assert InboxEvent.objects.filter(handler="it.count_order").count() == TOTAL
    assert run["relay_alive"], "the relay thread died"
    assert run["consumer_alive"], output  # the same process throughout: no restart


@pytest.mark.slow
@pytest.mark.timeout(1200)  # 5,000 events on a shared two-core machine, plus a node restart
@pytest.mark.django_db(transaction=True)
def test_killing_the_relays_node_loses_nothing_and_the_relay_fails_over(cluster, unique_name):
    """SIGKILL the node the relay publishes to: unconfirmed rows are published again on another
    node, every row is marked sent, each event applied once."""
    _needs_own_nodes(cluster)
    run = run_with_a_node_killed(cluster, unique_name, "relay", total=TOTAL)
    assert_nothing_lost_nothing_twice(run)
    assert run["figures"]["publish_failover_s"] is not None


@pytest.mark.slow
@pytest.mark.timeout(1200)  # 5,000 events on a shared two-core machine, plus a node restart
@pytest.mark.django_db(transaction=True)
def test_killing_the_consumers_node_loses_nothing_and_the_consumer_fails_over(cluster, unique_name):
    """SIGKILL the node the consumer is connected to: it reconnects to another node, what it
    had unacked is redelivered and the inbox drops what was already applied."""
    _needs_own_nodes(cluster)
    run = run_with_a_node_killed(cluster, unique_name, "consumer", total=TOTAL)
    assert_nothing_lost_nothing_twice(run)
    assert "consumer lost" in run["consumer_output"]
    assert run["figures"]["handle_failover_s"] is not None


@pytest.mark.slow
@pytest.mark.timeout(1200)  # 5,000 events on a shared two-core machine, plus a node restart
@pytest.mark.django_db(transaction=True)
def test_killing_the_quorum_queues_leader_loses_nothing(cluster, unique_name):
    """SIGKILL the node holding the queue's leader (neither the relay's nor the consumer's): a
    follower takes over, and publishing and consuming resume on it."""
    _needs_own_nodes(cluster)
    run = run_with_a_node_killed(cluster, unique_name, "leader", total=TOTAL)
    assert_nothing_lost_nothing_twice(run)
    figures = run["figures"]
    assert figures["new_leader"] != figures["killed_node"]


def test_readiness_answers_while_one_node_of_rabbitmq_url_does(cluster):
    """/health/ready/'s probe goes through the same node list: with two of three nodes named
    dead, it reaches the live one and says which; with none alive it fails."""
    dead = [f"amqp://test:x@127.0.0.1:{port}/%2F" for port in free_ports(2)]
    live = cluster.nodes[0]
    for _ in range(5):  # whatever the shuffle puts first
        assert ping_rabbitmq([*dead, live.url]).endswith(f" at 127.0.0.1:{live.port}")
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        ping_rabbitmq(dead)
