"""A publishing channel that RabbitMQ 3.10 keeps nacking after a quorum queue's leader died.

A channel learns a quorum queue's members from the queue's record at its first publish there,
the recorded leader first, and asks that node for the queue's machine version before anything
else. When the leader's node has just been SIGKILLed and no new leader has rewritten the record
yet, that call fails (`badrpc, nodedown`), the publish is nacked, and the channel keeps the same
stale view: every later publish on it is nacked until the dead node is back, although the queue
has a new leader a moment later. The publisher therefore drops a channel that got a nack
(rabbitmq_publisher.py); docs/clusters.md tells the whole story with its figures.
"""

from __future__ import annotations

import os
import signal
import time

import pika
import pytest

from django_interlink.events.publish_outcomes import Declined
from django_interlink.events.rabbitmq_publisher import ConfirmingPublisher, Outgoing

# publishes tried after the kill, 0.2 s apart: the dead node stays down throughout
TRIES = 50


@pytest.mark.timeout(300)  # the fixture restarts the killed node afterwards
def test_a_channel_nacked_after_the_leaders_death_is_replaced_and_publishing_resumes(
    cluster, unique_name
):
    """SIGKILL the queue's leader and publish at once through a channel opened before (a relay
    that just failed over): the broker may nack while its record names the dead leader, but a
    publish is confirmed again while that node is still down, not only once it is back."""
    leader, publisher_node, other = cluster.nodes
    if not leader.can_kill or leader.pid is None or cluster.ctl is None:
        pytest.skip("the cluster comes from RABBITMQ_URLS or Docker: no process group to kill")
    connection = pika.BlockingConnection(pika.URLParameters(leader.url))
    channel = connection.channel()
    channel.exchange_declare(unique_name, exchange_type="topic", durable=True)
    channel.queue_declare(unique_name, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(unique_name, unique_name, routing_key="order.created")
    connection.close()
    assert cluster.queue_leader(unique_name) == leader  # declared there, led from there
    assert len(cluster.queue_members(unique_name)) == 3
    publisher = ConfirmingPublisher(pika.URLParameters(publisher_node.url), unique_name, 30)
    message = Outgoing("order.created", b"{}", pika.BasicProperties(delivery_mode=2))
    publisher.open()  # nothing published to the queue on this channel yet
    os.killpg(leader.pid, signal.SIGKILL)  # no waiting: publish while the record is stale
    outcomes: list[str | None] = []
    try:
        for _ in range(TRIES):
            outcomes.extend(publisher.publish([message]))
            if outcomes[-1] is None:
                break
            time.sleep(0.2)
    finally:
        publisher.close()
        leader.kill()  # reaps the process group, marks the node down for the fixture
    print(f"\noutcomes after the kill: {outcomes}")
    assert outcomes[-1] is None, f"still nacked after {TRIES} tries: {outcomes[-1]}"
    assert all(isinstance(outcome, Declined) for outcome in outcomes[:-1])
    assert cluster.queue_leader(unique_name) in (publisher_node, other)
