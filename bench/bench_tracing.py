"""What does tracing cost? The order saga end to end and our consumer, each with tracing on
against off in the same run, taking turns (target: on at most 1.10x off's time per unit).

"On" is the OpenTelemetry SDK with a BatchSpanProcessor in front of an exporter to nowhere that
counts and drops what it is handed, and the instrumentations the real setup installs (Django,
requests, psycopg, redis); "off" is no SDK, the API's no-op tracer (bench/tracing_worker.py).
The exporter costs nothing to export to and lets each turn count the spans it made: a bench
whose "on" made no span, or whose "off" made one, stops with an error instead of printing a
ratio. (OTLP to a closed port would encode each batch and then fail, retry and drop: a cost that
depends on the failure path.)

The consumer workloads also run two variants of "on", as extra rows beside the main figure:
"sampled" (parentbased_traceidratio at 0.1, one message in ten arriving sampled) and "lean"
(the psycopg and redis instrumentations off, our own spans only). `--variants ""` skips them.

A process can set the global tracer provider once, so the two modes live in two long-lived
worker processes, started once and driven in alternation: each round asks both for the same
work, the one going first rotated every round (support.take_turns), so the machine's drift hits
both alike. Both use the same stubs (four, served by this process, which waits while a worker
works), the same PostgreSQL server (a database each) and the same brokers (their own names).

    .venv/bin/python bench/bench_tracing.py [--iterations 100] [--events 2000] [--rounds 5]
                                            [--variants sampled,lean]
    .venv/bin/python bench/bench_tracing.py --check    # tiny turns: on makes spans, off none

Not a test. Prints the figures and writes bench/results/tracing.json (not with --check).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "django_app"), str(REPO)]

from bench.support import (  # noqa: E402
    Ratio,
    durability,
    durability_label,
    report,
    take_turns,
    unique_name,
    write_results,
)
from bench.tracing_worker import MODES, RATIO, VARIANTS, WINDOW  # noqa: E402
from mock_services.common.app import SERVICE_NAMES  # noqa: E402
from mock_services.testing import StubServer  # noqa: E402
from servers import provide  # noqa: E402
from servers.postgres import drop_database, fresh_database  # noqa: E402

TARGET = 1.10
WORKLOADS = {
    "saga": "Tracing: the order saga end to end on the stubs",
    "rabbitmq": "Tracing: RabbitMQ consume, ours per message (quorum queue)",
    "rabbitmq_window": f"Tracing: RabbitMQ consume, ours in windows of {WINDOW} (quorum queue)",
    "redis": "Tracing: Redis Streams consume, ours per message",
    "redis_window": f"Tracing: Redis Streams consume, ours in windows of {WINDOW}",
}
# Environment a worker must not inherit: tracing is what the worker's mode says, nothing else.
UNSET = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_SDK_DISABLED",
    "INTERLINK_TRACES_FILE",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",
)
VARIANT_LABELS = {
    "sampled": f"sampled ({RATIO:g}) / off",
    "lean": "on without the psycopg and redis spans / off",
}


class Worker:
    """One bench/tracing_worker.py process in `mode`, asked for work one line at a time."""

    def __init__(self, mode: str, env: Mapping[str, str]) -> None:
        self.mode = mode
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.tracing_worker", mode],
            cwd=REPO,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.spans: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}  # CPU seconds a unit, in the worker

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        return self.process.stdin, self.process.stdout

    def ask(self, workload: str, units: int) -> float:
        """Run `units` of `workload` in the worker; its units per second (spans kept aside)."""
        requests, replies = self._pipes()
        requests.write(f"{workload} {units}\n")
        requests.flush()
        line = replies.readline()
        if not line:
            code = self.process.wait(timeout=30)
            raise RuntimeError(f"the tracing-{self.mode} worker exited ({code}) on {workload}")
        answer = json.loads(line)
        self.spans.setdefault(workload, []).append(answer["spans"] / answer["units"])
        self.cpu.setdefault(workload, []).append(answer["cpu"] / answer["units"])
        return float(answer["per_second"])

    def close(self) -> None:
        requests, _ = self._pipes()
        with contextlib.suppress(BrokenPipeError):  # a worker that failed has said why on stderr
            requests.write("quit\n")
            requests.close()
        self.process.wait(timeout=60)


def spans_per_unit(workers: Mapping[str, Worker], workload: str) -> dict[str, float]:
    """Spans per unit of `workload` in each mode; an error unless on made some and off none."""
    found = {mode: max(worker.spans[workload]) for mode, worker in workers.items()}
    if found["off"] != 0 or min(workers["on"].spans[workload]) == 0:
        raise RuntimeError(f"{workload}: tracing off must make no span and on some, got {found}")
    return {mode: round(value, 2) for mode, value in found.items()}


def cpu_per_unit(workers: Mapping[str, Worker], workload: str) -> dict[str, float]:
    """The median CPU microseconds a unit of `workload` took in each worker: the cost less the
    shared machine's waits (which the rates include), though not its cache and clock effects."""
    return {
        mode: round(statistics.median(worker.cpu[workload]) * 1e6, 1)
        for mode, worker in workers.items()
    }


def measures(workers: Mapping[str, Worker], workload: str, units: int) -> dict[str, Any]:
    def ask(worker: Worker) -> Callable[[], float]:
        return lambda: worker.ask(workload, units)

    return {f"{workload}_{mode}": ask(worker) for mode, worker in workers.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=100, help="sagas a turn")
    parser.add_argument("--events", type=int, default=2000, help="events a consumer turn")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; medians are reported")
    parser.add_argument("--warmup", type=int, default=10, help="sagas each worker runs first")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="which to run")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="variants of on for the consumer"
    )
    parser.add_argument(
        "--check", action="store_true", help="one tiny round: spans on, none off; no JSON"
    )
    args = parser.parse_args()
    chosen = args.workloads.split(",")
    if unknown := set(chosen) - set(WORKLOADS):
        parser.error(f"--workloads: unknown {', '.join(sorted(unknown))}")
    args.variants = [name for name in args.variants.split(",") if name]
    if unknown := set(args.variants) - set(VARIANTS):
        parser.error(f"--variants: unknown {', '.join(sorted(unknown))}")
    if args.check:
        args.iterations, args.events, args.rounds, args.warmup = 2, 20, 1, 1
    with ExitStack() as stack:
        results = run(args, chosen, stack)
    if not args.check:
        write_results("tracing", results)


def run(args: argparse.Namespace, chosen: list[str], stack: ExitStack) -> dict[str, Any]:
    postgres, rabbit, redis_server = provide("postgres"), provide("rabbitmq"), provide("redis")
    for server in (postgres, rabbit, redis_server):
        stack.callback(server.close)
    token = secrets.token_urlsafe(16)
    stubs = {name: StubServer(name, token).start() for name in SERVICE_NAMES}
    for stub in stubs.values():
        stack.callback(stub.stop)
    base_env = {key: value for key, value in os.environ.items() if key not in UNSET}
    base_env.update(
        {
            # set before the worker instruments Django, as manage.py and wsgi.py set it first
            "DJANGO_SETTINGS_MODULE": "project.settings.base",
            "DJANGO_SECRET_KEY": "bench-only-secret-key",
            "LOG_LEVEL": "WARNING",
            "RABBITMQ_URL": rabbit.endpoint.url,
            "REDIS_URL": redis_server.endpoint.url,
            "SERVICES_API_KEY": token,
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            # the saga's events stay in the outbox: nothing relays them during the benchmark
            "EVENT_BUS_ALLOW_MEMORY_BUS": "1",
            "PYTHONPATH": os.pathsep.join([str(REPO / "django_app"), str(REPO)]),
            **{f"{name.upper()}_SERVICE_URL": stub.url for name, stub in stubs.items()},
        }
    )
    name = unique_name("bench_tracing_")
    workers: dict[str, Worker] = {}
    for mode in (*MODES, *args.variants):
        url = fresh_database(postgres.endpoint.url, f"{name}_{mode}")
        stack.callback(drop_database, postgres.endpoint.url, url)
        workers[mode] = Worker(mode, {**base_env, "DATABASE_URL": url})
        stack.callback(workers[mode].close)
    settings = durability(url)
    label = f"PostgreSQL {durability_label(settings)}".replace(
        "fsync=off synchronous_commit=off full_page_writes=off", "fsync off"
    )

    sections: dict[str, Any] = {}
    for workload in chosen:
        units = args.iterations if workload == "saga" else args.events
        modes = [*MODES, *(args.variants if workload != "saga" else [])]
        turns = measures({mode: workers[mode] for mode in modes}, workload, units)
        for worker in (workers[mode] for mode in modes):  # warm-up: connections, caches, imports
            worker.ask(workload, args.warmup if workload == "saga" else units // 10 or 1)
            worker.spans.clear()
            worker.cpu.clear()
        runs = take_turns(turns, args.rounds, f"{workload}, tracing off/on")
        unit = "saga" if workload == "saga" else "event"
        figures = {f"{workload}_{mode}": f"tracing {mode}" for mode in modes}
        ratios = [
            Ratio(
                f"on / off, time per {unit} (figures: {unit}s/s off / on)",
                f"{workload}_off",
                f"{workload}_on",
                TARGET,
                at_most=True,
            ),
            *(
                Ratio(
                    f"{VARIANT_LABELS[mode]}, time per {unit} (figures: {unit}s/s off / {mode})",
                    f"{workload}_off",
                    f"{workload}_{mode}",
                )
                for mode in modes[len(MODES) :]
            ),
        ]
        title = f"{WORKLOADS[workload]}, {label}"
        sections[workload] = report(title, figures, runs, ratios, units_per_turn=units)
        sections[workload]["spans_per_unit"] = spans_per_unit(
            {mode: workers[mode] for mode in modes}, workload
        )
        # each round's own on / off: how far the shared machine's load moved the figures
        pairs = zip(runs[f"{workload}_off"], runs[f"{workload}_on"], strict=True)
        by_round = [off / on for off, on in pairs]
        sections[workload]["on_off_by_round"] = [round(value, 3) for value in by_round]
        print(f"  {workload}: on / off by round: {min(by_round):.2f}x to {max(by_round):.2f}x")
        spans = sections[workload]["spans_per_unit"]
        print(f"  {workload}: spans per {unit}: {spans}")
        cpu = cpu_per_unit({mode: workers[mode] for mode in modes}, workload)
        sections[workload]["worker_cpu_us_per_unit"] = cpu
        print(f"  {workload}: the worker's CPU per {unit}, us (median): {cpu}\n", flush=True)
    return {
        "question": "what tracing (SDK, batch processor, an exporter to nowhere) costs, on / off",
        "rounds": args.rounds,
        "variants": {mode: VARIANT_LABELS[mode] for mode in args.variants},
        "exporter": "an exporter to nowhere (counting, dropping) behind a BatchSpanProcessor",
        "postgres_settings": settings,
        "servers": {"rabbitmq": rabbit.endpoint.source, "redis": redis_server.endpoint.source},
        **sections,
    }


if __name__ == "__main__":
    main()
