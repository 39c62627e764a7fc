"""A soak: the whole stack at a steady order rate, sampled every 10 s, to see sizes level off.

    .venv/bin/python bench/soak.py                       # 10 minutes, 2 orders/s, RabbitMQ
    .venv/bin/python bench/soak.py --minutes 2 --broker redis --retention default

PostgreSQL and RabbitMQ or Redis come as the integration tests get them (an address in the
environment, else Docker, else local processes); the four stubs, the orders API (runserver), two
`resume_sagas` workers, `relay_outbox` and two `consume_events` (the shop's handlers, and the
other services' events) run as processes of their own. Orders go through POST /api/orders, one
in five with a declined card. Every sample counts the rows of every table, the messages of every
queue or the entries of every stream, and each process's resident memory.

Writes bench/results/<output>.json (settings, every sample, per series first/last/max and the
plateau verdict with its rule) and <output>.svg, and prints the summary. Not part of `make bench`
(`make soak` runs it): it takes minutes, and it asks whether things level off, not how fast.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.soak_report import PLATEAU_RULE, judge, series_of, svg, table
from bench.soak_sample import DECLINE_EVERY, Load, Sampler
from bench.soak_stack import REPO, Stack
from bench.support import RESULTS_DIR, write_results

# The soak's shortened retention, the one place it names settings: INTERLINK sections merged
# over the project's by bench/soak_settings.py (names and defaults: django_interlink/conf.py).
SHORT_RETENTION: dict[str, dict[str, Any]] = {
    "RETENTION": {
        "INTERVAL": 10,  # the relay purges every 10 s
        "OUTBOX_SENT": 60,
        "SAGAS": 60,
        "DEAD_LETTER_REPLAY": 30,
        # longer than the redelivery horizon (check E091): 3 s of retries, 5 reclaims of 5 s,
        # 30 s of dead-letter replay
        "INBOX": 120,
    },
    "API": {"IDEMPOTENCY_KEY_TTL": 60},
    "EVENT_BUS": {"REDIS_CLAIM_IDLE_MS": 5000},
}
# Cumulative counters of the load, and the stubs (other teams' services, which keep every order
# in memory): reported, not judged.
NOT_JUDGED = ("load.", "rss_mb.stubs")


def main() -> int:
    args = _parser().parse_args()
    if args.rejudge:
        return _rejudge(args.output)
    override: dict[str, Any] = SHORT_RETENTION if args.retention == "short" else {}
    for section, values in json.loads(args.settings).items():
        override = {**override, section: {**override.get(section, {}), **values}}
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    stack = Stack(args.broker, workdir)
    print(f"soak: {args.minutes} min at {args.rate} orders/s on {args.broker}; logs in {workdir}")
    try:
        samples, load_counts = _run(stack, args, override)
    finally:
        stack.close()
    results = {
        "settings": {
            "minutes": args.minutes,
            "rate_per_second": args.rate,
            "broker": args.broker,
            "sample_interval_seconds": args.interval,
            "customers": args.customers,
            "declined_one_in": DECLINE_EVERY,
            "retention": args.retention,
            "interlink_override": override,
            "commit": _commit(),
            # the retention code of issue 18 is what reads RETENTION; without it the override
            # changes nothing
            "retention_code_present": (
                REPO / "packages/django-interlink/src/django_interlink/retention"
            ).is_dir(),
        },
        "servers": stack.servers,
        "orders_by_http_status": load_counts,
        "samples": samples,
    }
    _conclude(results)
    write_results(args.output, results)
    _draw_and_print(args.output, results)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _conclude(results: dict[str, Any]) -> None:
    """Add the title, the rule, each series' summary and the overall verdict to a run's
    results."""
    settings = results["settings"]
    retention = (
        f"retention {settings['retention']}"
        if settings["retention_code_present"]
        else "no retention code (before issue 18)"
    )
    results["title"] = (
        f"Soak: {settings['minutes']:g} min at {settings['rate_per_second']:g} orders/s "
        f"on {settings['broker']}, {retention}"
    )
    summaries = judge(results["samples"], not_judged=NOT_JUDGED)
    growing = sorted(n for n, s in summaries.items() if s["levels_off"] is False)
    judged = [n for n, s in summaries.items() if s["levels_off"] is not None]
    results["rule"] = PLATEAU_RULE
    results["verdict"] = {
        "judged": len(judged),
        "level_off": len(judged) - len(growing),
        "growing": growing,
    }
    results["series"] = summaries


def _rejudge(name: str) -> int:
    """Judge the samples of an earlier run again (the rule changed), keeping everything else,
    the machine's load included."""
    path = RESULTS_DIR / f"{name}.json"
    results = json.loads(path.read_text())
    _conclude(results)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"rewritten {path.relative_to(REPO)}")
    _draw_and_print(name, results)
    return 0


def _draw_and_print(name: str, results: dict[str, Any]) -> None:
    picture = RESULTS_DIR / f"{name}.svg"
    summaries = results["series"]
    picture.write_text(svg(series_of(results["samples"]), summaries, title=results["title"]))
    print(f"written {picture.relative_to(REPO)}\n")
    print(table(summaries))
    verdict = results["verdict"]
    print(f"\n{verdict['level_off']} of {verdict['judged']} judged series level off", end="")
    print(f"; growing: {', '.join(verdict['growing'])}" if verdict["growing"] else "")


def _run(
    stack: Stack, args: argparse.Namespace, override: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Start everything, place orders for the duration, sample every interval; the samples."""
    stack.start_servers()
    stubs = stack.start_stubs()
    stack.django_env(stubs, override)
    stack.prepare(stubs, customers=args.customers)
    stack.start_processes()
    sampler = Sampler(stack)
    load = Load(stack, args.rate)
    samples: list[dict[str, Any]] = []
    try:
        start = time.monotonic()
        load.start()
        due = 0.0
        while True:
            time.sleep(max(0.0, start + due - time.monotonic()))
            values = sampler.sample(load)
            samples.append({"t": round(time.monotonic() - start, 1), "values": values})
            _progress(samples[-1])
            if dead := stack.dead():
                raise RuntimeError(f"{', '.join(dead)} exited: see the logs in {stack.workdir}")
            if due >= args.minutes * 60:
                break
            due += args.interval
    finally:
        load.stop()
        sampler.close()
    return samples, load.counts()


def _progress(sample: dict[str, Any]) -> None:
    v = sample["values"]
    placed = sum(n for name, n in v.items() if name.startswith("load."))
    print(
        f"  t={sample['t']:>6.0f}s placed {placed:>6.0f}  sagas {v.get('sagas.completed', 0):>6.0f}"
        f" done  outbox {v.get('rows.interlink_outboxevent', 0):>6.0f}"
        f"  inbox {v.get('rows.interlink_inboxevent', 0):>6.0f}"
        f"  api rss {v.get('rss_mb.api', 0):.0f} MB",
        flush=True,
    )


def _commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="duration (default 10)")
    parser.add_argument("--rate", type=float, default=2.0, help="orders a second (default 2)")
    parser.add_argument("--broker", choices=("rabbitmq", "redis"), default="rabbitmq")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument(
        "--customers", type=int, default=8, help="accounts placing orders, each its own token"
    )
    parser.add_argument(
        "--retention",
        choices=("short", "default"),
        default="short",
        help="short: SHORT_RETENTION (minutes); default: the project's settings (days)",
    )
    parser.add_argument(
        "--settings",
        default="{}",
        help='JSON of INTERLINK sections merged over those, e.g. \'{"RETENTION": {"SAGAS": 30}}\'',
    )
    parser.add_argument(
        "--output", default="soak", help="bench/results/<output>.json and .svg (default soak)"
    )
    parser.add_argument(
        "--rejudge",
        action="store_true",
        help="run nothing: judge the samples of bench/results/<output>.json again",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
