"""The soak's load and its measurements: orders placed at a steady rate through the orders API,
and a sample of every size that could grow (tables, broker queues or streams, process memory).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pika
import pika.exceptions as pe
import psycopg
import redis
import requests
from psycopg import sql

from bench.soak_sink import OTHER_SERVICES_TYPES
from bench.soak_stack import SHOP_HANDLERS, Stack

GOOD_CARD = {"type": "card", "token": "tok_visa"}
DECLINED_CARD = {"type": "card", "token": "tok_declined"}
# One order in DECLINE_EVERY is paid with a card the payments stub declines: its saga undoes
# the reservations, and it leaves a different trail (refund events, compensation step logs).
DECLINE_EVERY = 5
SHOP_TYPES = ("order.created", "user.created")
RETRY_TIERS = 4  # <group>.retry.1 .. MAX_DELIVERIES - 1 (5 by default)


class Load:
    """POST /api/orders at `rate` a second, each with a fresh Idempotency-Key, the customers'
    tokens in turn. Requests run on a small pool, so a slow answer does not slow the rate."""

    def __init__(self, stack: Stack, rate: float) -> None:
        self.stack = stack
        self.rate = rate
        self.statuses: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="soak-load")
        self._thread = threading.Thread(target=self._run, name="soak-pacer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.statuses)

    def _run(self) -> None:
        start = time.monotonic()
        for n in itertools.count():
            # paced from the start, not from the last request: no drift over a long run
            if self._stop.wait(max(0.0, start + n / self.rate - time.monotonic())):
                return
            self._pool.submit(self._place, n)

    def _place(self, n: int) -> None:
        session: requests.Session = getattr(self._local, "session", None) or requests.Session()
        self._local.session = session
        token = self.stack.tokens[n % len(self.stack.tokens)]
        body = {
            "items": [
                {"product_id": pid, "quantity": 1, "unit_price": 1250}
                for pid in self.stack.product_ids
            ],
            "currency": "USD",
            "payment_method": DECLINED_CARD if n % DECLINE_EVERY == 0 else GOOD_CARD,
        }
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
        try:
            response = session.post(
                f"{self.stack.api_url}/api/orders", json=body, headers=headers, timeout=30
            )
            said = str(response.status_code)
        except requests.RequestException as exc:
            said = type(exc).__name__
        with self._lock:
            self.statuses[said] += 1


class Sampler:
    """One sample: {name: value} of every series, read in one go."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.db = psycopg.connect(stack.database_url, autocommit=True)
        self.tables = [
            str(row[0])
            for row in self.db.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        self.redis = redis.Redis.from_url(stack.broker_url) if stack.broker == "redis" else None
        self.amqp: pika.BlockingConnection | None = None
        # a status no row has any more is a 0, not a gap in its series
        self._statuses_seen: set[str] = set()

    def sample(self, load: Load | None) -> dict[str, float]:
        values: dict[str, float] = {}
        values.update(self.table_rows())
        values.update(self.broker_sizes())
        for process in self.stack.processes:
            rss = process.rss_mb()
            if rss is not None:
                values[f"rss_mb.{process.name}"] = round(rss, 1)
        for status, count in (load.counts() if load else {}).items():
            values[f"load.http_{status}"] = count
        return values

    def table_rows(self) -> dict[str, float]:
        """Rows of every table of the database (whatever migrations made them), the outbox by
        status and the sagas by status."""
        values: dict[str, float] = {}
        for table in self.tables:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            row = self.db.execute(query).fetchone()
            values[f"rows.{table}"] = row[0] if row else 0
        for label, by_status in (
            ("outbox", "SELECT status, count(*) FROM interlink_outboxevent GROUP BY 1"),
            ("sagas", "SELECT status, count(*) FROM interlink_sagaexecution GROUP BY 1"),
        ):
            for status, count in self.db.execute(by_status):
                values[f"{label}.{status}"] = count
        self._statuses_seen.update(n for n in values if not n.startswith("rows."))
        return {**dict.fromkeys(self._statuses_seen, 0), **values}

    def broker_sizes(self) -> dict[str, float]:
        if self.redis is not None:
            return self._streams(self.redis)
        return self._queues()

    def _streams(self, client: redis.Redis) -> dict[str, float]:
        """XLEN of every stream under the run's prefix (the dead-letter streams too), and the
        memory Redis uses: streams live in it."""
        values: dict[str, float] = {}
        for key in client.scan_iter(match=f"{self.stack.prefix}:*", _type="stream"):
            name = key.decode() if isinstance(key, bytes) else str(key)
            values[f"stream.{name}"] = int(client.xlen(name))
        memory: Mapping[str, Any] = client.info("memory")  # type: ignore[assignment]
        values["redis.used_memory_mb"] = round(int(memory["used_memory"]) / 2**20, 2)
        return values

    def _queues(self) -> dict[str, float]:
        """Ready messages of every queue of the run's groups (work, retry tiers, dead letters),
        read with passive declares."""
        if self.amqp is None or self.amqp.is_closed:
            self.amqp = pika.BlockingConnection(pika.URLParameters(self.stack.broker_url))
        channel = self.amqp.channel()
        values: dict[str, float] = {}
        try:
            for queue in self.queue_names():
                try:
                    declared = channel.queue_declare(queue=queue, passive=True)
                except pe.ChannelClosedByBroker:  # not declared (a retry tier never used)
                    channel = self.amqp.channel()
                    continue
                values[f"queue.{queue}"] = declared.method.message_count
        finally:
            with contextlib.suppress(pe.AMQPError):
                channel.close()
        return values

    def queue_names(self) -> list[str]:
        names = []
        for group, module in self.stack.groups.items():
            types: Sequence[str] = SHOP_TYPES if module == SHOP_HANDLERS else OTHER_SERVICES_TYPES
            names += [f"{group}.{t}" for t in types]
            names += [f"{group}.retry.{n}" for n in range(1, RETRY_TIERS + 1)]
            names.append(f"{group}.dead")
        return names

    def close(self) -> None:
        self.db.close()
        if self.redis is not None:
            self.redis.close()
        if self.amqp is not None and self.amqp.is_open:
            with contextlib.suppress(pe.AMQPError):
                self.amqp.close()
