"""What does the saga cost? One OrderProcessingSaga end to end against the same calls made
directly (target: at most 1.5x), and sagas per second with 1, 2 and 4 worker processes.

Not a test. Needs PostgreSQL (DATABASE_URL, else a local server like the integration tests) and
starts the four stubs in this process. Prints the figures and writes bench/results/saga.json.

    .venv/bin/python bench/bench_saga.py [--iterations 200] [--sagas 200]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "django_app"), str(REPO)]

RESULTS = REPO / "bench" / "results" / "saga.json"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def _summary(ms: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(ms), 2),
        "p90_ms": round(_pct(ms, 0.9), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--sagas", type=int, default=200, help="sagas per throughput run")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument(
        "--profile",
        choices=("on", "off"),
        help="instead: profile --iterations sagas with contract validation on/off (pyinstrument)",
    )
    args = parser.parse_args()

    from integration_tests.servers import provide
    from integration_tests.servers.postgres import drop_database, fresh_database
    from mock_services.common.app import SERVICE_NAMES
    from mock_services.testing import StubServer

    server = provide("postgres")
    db_url = fresh_database(server.endpoint.url, f"bench_saga_{os.getpid()}")
    token = secrets.token_urlsafe(16)
    stubs = {name: StubServer(name, token).start() for name in SERVICE_NAMES}
    env = {
        "DATABASE_URL": db_url,
        "DJANGO_SETTINGS_MODULE": "project.settings.base",
        "DJANGO_SECRET_KEY": "bench-only-secret-key",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "SERVICES_API_KEY": token,
        "LOG_LEVEL": "WARNING",
        # the saga's events stay in the outbox: nothing relays them during the benchmark
        "EVENT_BUS_ALLOW_MEMORY_BUS": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO / "django_app"), str(REPO)]),
        **{f"{name.upper()}_SERVICE_URL": s.url for name, s in stubs.items()},
    }
    os.environ.update(env)
    try:
        results = run(args, env)
    finally:
        from django.db import connections

        connections.close_all()
        for stub in stubs.values():
            stub.stop()
        drop_database(server.endpoint.url, db_url)
        server.close()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten {RESULTS.relative_to(REPO)}")


def profile(args: argparse.Namespace, saga: Any, serial: Any, settings: Any) -> None:
    """Where one saga's time goes: pyinstrument over --iterations of them, after the warm-up."""
    from django.test import override_settings
    from pyinstrument import Profiler

    conf = {**settings.INTERLINK, "CONTRACT_VALIDATION": args.profile}
    with override_settings(INTERLINK=conf):
        for _ in range(args.warmup):
            saga(next(serial))
        profiler = Profiler(interval=0.0002)
        with profiler:
            for _ in range(args.iterations):
                saga(next(serial))
    print(profiler.output_text(unicode=False, color=False, show_all=False))
    from django.db import connection

    statements: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(" ".join(sql.split())[:110])
        return execute(sql, params, many, context)

    with override_settings(INTERLINK=conf), connection.execute_wrapper(record):
        saga(next(serial))
    print(f"one saga's {len(statements)} statements:")
    for sql in statements:
        print(f"  {sql}")


def run(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    import django

    django.setup()
    from django.conf import settings
    from django.core.mail import send_mail
    from django.core.management import call_command

    from django_interlink.models import SagaExecution, SagaStepLog
    from django_interlink.sagas.services import saga_create
    from shop.clients.inventory import InventoryServiceClient
    from shop.clients.orders import OrderServiceClient
    from shop.clients.payments import PaymentServiceClient
    from shop.clients.users import UserServiceClient
    from shop.order_processing import (
        ORDER_PROCESSING,
        build_order_context,
        process_order_request,
    )

    call_command("migrate", run_syncdb=True, verbosity=0)
    users, inv = UserServiceClient(), InventoryServiceClient()
    pay, orders = PaymentServiceClient(), OrderServiceClient()
    user_id = users.create_user(email="bench@example.com", name="Bench")["id"]
    a = inv.create_product(sku="BENCH-A", name="A", on_hand=1_000_000, unit_price=1250)["id"]
    b = inv.create_product(sku="BENCH-B", name="B", on_hand=1_000_000, unit_price=4999)["id"]
    items: list[dict[str, Any]] = [
        {"product_id": a, "quantity": 2},
        {"product_id": b, "quantity": 1},
    ]
    context = build_order_context(user_id=user_id, items=items, payment_method="tok_visa")

    def direct(n: int) -> None:
        """The saga's five calls and its e-mail, made in a row with the same clients and keys."""
        key = f"direct-{n}"
        user = users.get_user(user_id=user_id, use_cache=False)
        reserved = [
            inv.reserve_item(
                product_id=item["product_id"],
                quantity=item["quantity"],
                order_reference=key,
                idempotency_key=f"{key}:reserve:{i}",
            )
            for i, item in enumerate(items)
        ]
        reservations = [r["id"] for r in reserved]
        # Priced as the saga prices: the catalogue's price in each reservation's answer.
        lines = [
            {**item, "unit_price": r["unit_price"]} for item, r in zip(items, reserved, strict=True)
        ]
        payment = pay.process_payment(
            user_id=user_id,
            amount=sum(line["quantity"] * line["unit_price"] for line in lines),
            currency="USD",
            card_token="tok_visa",
            order_reference=key,
            idempotency_key=f"{key}:pay",
        )
        order = orders.create_order(
            user_id=user_id,
            items=lines,  # type: ignore[arg-type]
            currency="USD",
            payment_id=payment["id"],
            reservation_ids=reservations,
            idempotency_key=f"{key}:order",
        )
        send_mail(
            f"Order {order['id']} confirmed",
            f"Hello {user['name']}",
            settings.DEFAULT_FROM_EMAIL,
            [user["email"]],
        )

    def saga(n: int) -> None:
        result = process_order_request(user_id, items, "tok_visa", saga_id=f"bench-{n}")
        if result.status != "completed":
            raise RuntimeError(f"saga bench-{n} ended {result.status}: {result.error}")

    from django.test import override_settings

    serial = itertools.count()

    def compare(mode: str) -> dict[str, Any]:
        conf = {**settings.INTERLINK, "CONTRACT_VALIDATION": mode}
        with override_settings(INTERLINK=conf):
            for _ in range(args.warmup):
                direct(next(serial))
                saga(next(serial))
            direct_ms: list[float] = []
            saga_ms: list[float] = []
            for _ in range(args.iterations):  # interleaved: drift hits both sides alike
                t0 = time.perf_counter()
                direct(next(serial))
                t1 = time.perf_counter()
                saga(next(serial))
                t2 = time.perf_counter()
                direct_ms.append((t1 - t0) * 1000)
                saga_ms.append((t2 - t1) * 1000)
        ratio = statistics.median(saga_ms) / statistics.median(direct_ms)
        print(f"-- contract validation {mode!r} (PostgreSQL, {args.iterations} runs each)")
        print(f"   direct calls : {_summary(direct_ms)}")
        print(f"   saga         : {_summary(saga_ms)}")
        print(f"   saga / direct (median): {ratio:.2f}x  (target <= 1.5x)")
        return {
            "contract_validation": mode,
            "direct": _summary(direct_ms),
            "saga": _summary(saga_ms),
            "ratio_median": round(ratio, 2),
            "overhead_median_ms": round(
                statistics.median(saga_ms) - statistics.median(direct_ms), 2
            ),
        }

    if args.profile:
        profile(args, saga, serial, settings)
        sys.exit(0)
    latency = [compare("on"), compare("off")]

    # Where the saga's extra time goes: its database statements (state, step log, outbox).
    from django.db import connection

    db = {"statements": 0, "seconds": 0.0}

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            db["statements"] += 1
            db["seconds"] += time.perf_counter() - t

    runs = 50
    with connection.execute_wrapper(timed):
        for _ in range(runs):
            saga(next(serial))
    db_cost = {
        "statements_per_saga": round(db["statements"] / runs, 1),
        "db_ms_per_saga": round(db["seconds"] * 1000 / runs, 2),
    }
    print(
        f"-- saga database work: {db_cost['statements_per_saga']} statements, "
        f"{db_cost['db_ms_per_saga']} ms per saga (BEGIN/COMMIT not counted)"
    )

    throughput = []
    manage = [
        sys.executable,
        str(REPO / "django_app" / "manage.py"),
        "resume_sagas",
        "--skip-checks",
    ]
    for k in (int(w) for w in args.workers.split(",")):
        prefix = f"tp{k}-"
        for n in range(args.sagas):
            saga_create(definition=ORDER_PROCESSING, saga_id=f"{prefix}{n}", context=context)
        started = time.perf_counter()
        procs = [
            subprocess.Popen(
                [*manage, "--until-idle", "--batch", str(args.sagas)],
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
            )
            for _ in range(k)
        ]
        for p in procs:
            if p.wait(timeout=600) != 0:
                raise RuntimeError("a worker failed")
        wall = time.perf_counter() - started
        mine = SagaExecution.objects.filter(saga_id__startswith=prefix)
        done = mine.filter(status="completed").count()
        first = SagaStepLog.objects.filter(execution__in=mine).order_by("started_at").first()
        last = mine.order_by("-completed_at").first()
        assert first is not None and last is not None and last.completed_at is not None
        window = (last.completed_at - first.started_at).total_seconds()
        row = {
            "workers": k,
            "sagas": args.sagas,
            "completed": done,
            "sagas_per_s": round(args.sagas / window, 1),
            "sagas_per_s_incl_startup": round(args.sagas / wall, 1),
        }
        throughput.append(row)
        print(
            f"{k} worker(s): {row['sagas_per_s']} sagas/s "
            f"({row['sagas_per_s_incl_startup']} incl. process start), "
            f"{done}/{args.sagas} completed"
        )
    base = throughput[0]["sagas_per_s"]
    for row in throughput:
        row["speedup_vs_1"] = round(row["sagas_per_s"] / base, 2)
    print(
        "speed-up vs 1 worker: "
        + ", ".join(f"{r['workers']}: {r['speedup_vs_1']}x" for r in throughput)
    )

    return {
        "question": "saga overhead vs direct calls; sagas/s by worker processes",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "iterations": args.iterations,
        "end_to_end": latency,
        "saga_database_work": db_cost,
        "target_ratio": 1.5,
        "throughput": throughput,
    }


if __name__ == "__main__":
    main()
