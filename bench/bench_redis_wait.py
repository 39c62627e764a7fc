"""What does waiting for a replica (REDIS_WAIT_REPLICAS = 1) cost the relay's publishing?

On Redis with Sentinel (a primary, a replica, three sentinels, as the integration tests start
them), the same events are published the way the relay publishes a batch (`publish_many`,
batches of OUTBOX_BATCH_SIZE, through the Sentinel-found primary), once without WAIT and once
with `WAIT 1 <timeout>` ending each batch's round trip, in turns. The ratio is with / without:
the share of the relay's Redis throughput that the guarantee keeps. The database part of the
relay (locking and marking the rows) is the same either way and is left out.

    .venv/bin/python bench/bench_redis_wait.py [--events 5000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "django_app"), str(REPO)]

from bench.support import Ratio, report, setup_django, take_turns, unique_name  # noqa: E402
from bench.support import write_results as write  # noqa: E402
from integration_tests.servers import provide  # noqa: E402

EVENT_TYPE = "order.created"
WAIT_TIMEOUT_MS = 1000


def run(args: argparse.Namespace, sentinels: str) -> dict[str, Any]:
    from django_interlink.events.backends import bus_settings
    from django_interlink.events.redis_streams import RedisStreamsBus
    from shop.event_samples import sample_envelope

    batch_size = int(bus_settings()["OUTBOX_BATCH_SIZE"])
    prefix = unique_name("benchwait")

    def bus(wait_replicas: int) -> RedisStreamsBus:
        return RedisStreamsBus.from_config(
            bus_settings(
                redis_url="",
                redis_sentinels=sentinels,
                redis_sentinel_service="mymaster",
                redis_stream_prefix=prefix,
                redis_wait_replicas=wait_replicas,
                redis_wait_timeout_ms=WAIT_TIMEOUT_MS,
            )
        )

    without, with_wait = bus(0), bus(1)
    stream = without.stream(EVENT_TYPE)
    events = [sample_envelope(EVENT_TYPE) for _ in range(args.events)]
    batches = [events[i : i + batch_size] for i in range(0, len(events), batch_size)]

    def relay(target: RedisStreamsBus) -> float:
        target.client.delete(stream)
        started = time.perf_counter()
        for batch in batches:
            target.publish_many(batch)
        return args.events / (time.perf_counter() - started)

    for target in (without, with_wait):
        target.publish(events[0])  # connect (and find the primary) outside the clock
    runs = take_turns(
        {"without_wait": lambda: relay(without), "with_wait": lambda: relay(with_wait)},
        args.rounds,
        "Redis relay publish, WAIT off/on",
    )
    without.client.delete(stream)
    without.close()
    with_wait.close()
    return report(
        "Redis Streams with Sentinel, the relay's publish_many: WAIT 1 against none",
        {
            "without_wait": f"batches of {batch_size}, no WAIT (asynchronous replication)",
            "with_wait": f"batches of {batch_size}, each ending with WAIT 1 {WAIT_TIMEOUT_MS}",
        },
        runs,
        [Ratio("WAIT 1 / no WAIT", "with_wait", "without_wait")],
        batch_size=batch_size,
        events_per_run=args.events,
        wait_timeout_ms=WAIT_TIMEOUT_MS,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000, help="events per run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    args = parser.parse_args()
    with ExitStack() as stack:
        cluster = provide("redis_sentinel")
        stack.callback(cluster.close)
        setup_django("project.settings.base", None)
        results = {"rounds": args.rounds, "redis_wait": run(args, cluster.endpoint.url)}
        results["servers"] = {"redis_sentinel": cluster.endpoint.source}
    write("redis_wait", results)


if __name__ == "__main__":
    main()
