"""The three-node RabbitMQ cluster fixture: clustered, quorum queues on every node, and a node
SIGKILLed then restarted rejoins."""

from __future__ import annotations

import os

import pika
import pytest


def _declare_quorum(url: str, queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    finally:
        connection.close()


def test_the_cluster_has_three_running_nodes_each_answering_amqp(cluster):
    """Three nodes with distinct names and ports, each answering on its own URL, all running."""
    assert len(cluster.nodes) == 3
    assert len({node.name for node in cluster.nodes}) == 3
    assert len({node.port for node in cluster.nodes}) == 3
    for node in cluster.nodes:
        pika.BlockingConnection(pika.URLParameters(node.url)).close()
    if cluster.ctl is None:
        pytest.skip("the cluster comes from RABBITMQ_URLS: rabbitmqctl cannot reach it")
    assert cluster.running_nodes() == sorted(node.name for node in cluster.nodes)


def test_a_quorum_queue_has_a_replica_on_every_node_and_its_leader_where_declared(
    cluster, unique_name
):
    """Declared on node 2, the queue's leader is node 2 and its members are all three nodes."""
    if cluster.ctl is None:
        pytest.skip("the cluster comes from RABBITMQ_URLS: rabbitmqctl cannot reach it")
    _declare_quorum(cluster.nodes[1].url, unique_name)
    assert cluster.queue_leader(unique_name) is cluster.nodes[1]
    assert cluster.queue_members(unique_name) == sorted(node.name for node in cluster.nodes)


def test_a_sigkilled_node_is_gone_and_rejoins_the_cluster_when_restarted(cluster):
    """kill() SIGKILLs the node's process group (the others carry on); restart() brings it back
    into the same cluster."""
    node = cluster.nodes[2]
    if not node.can_kill:
        pytest.skip("the cluster comes from RABBITMQ_URLS: its nodes are not ours to kill")
    pid = node.pid
    assert pid is not None
    node.kill()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the process is gone
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        pika.BlockingConnection(pika.URLParameters(node.url + "?connection_attempts=1"))
    assert node.name not in cluster.running_nodes()
    node.restart()
    assert cluster.running_nodes() == sorted(n.name for n in cluster.nodes)
    pika.BlockingConnection(pika.URLParameters(node.url)).close()


def test_the_node_a_client_is_connected_to_is_found_by_its_connection_name(cluster, unique_name):
    """connection_node() finds, among three nodes, the one holding a named connection."""
    if cluster.ctl is None:
        pytest.skip("the cluster comes from RABBITMQ_URLS: rabbitmqctl cannot reach it")
    for node in cluster.nodes:
        params = pika.URLParameters(node.url)
        params.client_properties = {"connection_name": f"{unique_name}-{node.index}"}
        connection = pika.BlockingConnection(params)
        try:
            assert cluster.connection_node(f"{unique_name}-{node.index}") is node
        finally:
            connection.close()
