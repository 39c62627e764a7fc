"""What the bench scripts share: their PostgreSQL servers and databases, Django's setup, rounds
taken in turns, ratios with their targets, and the JSON file each script writes.

PostgreSQL comes two ways, and every figure that touches it carries the settings read back
from the server with SHOW (`durability()`):

* "tests": the server the integration tests use (`provide("postgres")`), which runs with
  fsync, synchronous_commit and full_page_writes off: fast, and it promises nothing across a
  crash of the machine;
* "durable": `durable_postgres()`, the bench's own, with all three on (PostgreSQL's defaults),
  so a commit is on disk before it returns.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import django
import psycopg
from django.core.management import call_command
from django.db import connections

from servers import Provisioned, provide
from servers.postgres import as_process, drop_database, fresh_database

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "bench" / "results"

DURABILITY_SETTINGS = ("fsync", "synchronous_commit", "full_page_writes")
POSTGRES_KINDS = ("tests", "durable")


# -- PostgreSQL --------------------------------------------------------------------------


def durable_postgres() -> Provisioned:
    """A PostgreSQL of the bench's own on a free port with fsync, synchronous_commit and
    full_page_writes on (the integration tests' server has them off)."""
    return as_process(durable=True)


def durability(url: str) -> dict[str, str]:
    """The server's durability settings as it reports them (SHOW), and where its data lives."""
    with psycopg.connect(url) as conn:
        found = {name: _show(conn, name) for name in DURABILITY_SETTINGS}
        data_dir = _show(conn, "data_directory")
    return {**found, "filesystem": _filesystem(data_dir)}


def _show(conn: psycopg.Connection[Any], name: str) -> str:
    row = conn.execute(f"SHOW {name}").fetchone()
    assert row is not None
    return str(row[0])


def _filesystem(path: str) -> str:
    """The file system type holding `path` (an fsync on tmpfs would promise nothing)."""
    best = ("", "unknown")
    with contextlib.suppress(OSError), open("/proc/self/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            if len(fields) > 2 and path.startswith(fields[1]) and len(fields[1]) > len(best[0]):
                best = (fields[1], fields[2])
    return best[1]


def durability_label(settings: Mapping[str, str]) -> str:
    return " ".join(f"{name}={settings[name]}" for name in DURABILITY_SETTINGS)


@dataclass(frozen=True)
class Database:
    """One bench database on one PostgreSQL server, with that server's durability settings."""

    kind: str  # "tests" or "durable"
    url: str
    durability: dict[str, str]

    @property
    def label(self) -> str:
        return f"PostgreSQL {durability_label(self.durability)}"


def databases(stack: contextlib.ExitStack, kinds: Sequence[str], name: str) -> list[Database]:
    """A fresh database `name` on each server of `kinds`; dropped (and servers stopped) on exit."""
    found = []
    for kind in kinds:
        if kind not in POSTGRES_KINDS:
            raise ValueError(
                f"unknown PostgreSQL {kind!r}: choose from {', '.join(POSTGRES_KINDS)}"
            )
        server = provide("postgres") if kind == "tests" else durable_postgres()
        stack.callback(server.close)
        url = fresh_database(server.endpoint.url, name)
        stack.callback(drop_database, server.endpoint.url, url)
        found.append(Database(kind, url, durability(url)))
    return found


# -- Django ------------------------------------------------------------------------------


def setup_django(settings_module: str, database: Database | None, **environ: str) -> None:
    """Configure and set up Django (on `database`, else the project's SQLite default)."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DJANGO_SECRET_KEY": "bench-only-secret-key",
            "LOG_LEVEL": "WARNING",
            **environ,
        }
    )
    if database is not None:
        os.environ["DATABASE_URL"] = database.url
    django.setup()
    if database is not None:
        use_database(database)


def use_database(database: Database) -> None:
    """Point Django's default connection at `database` (migrated); every thread's next query
    connects there, as the settings dict is shared by the threads' connection objects."""
    if connections["default"].vendor != "postgresql":
        raise RuntimeError("set DATABASE_URL before Django's settings are imported")
    parts = urlsplit(database.url)
    connections.close_all()
    connections["default"].settings_dict.update(
        NAME=unquote(parts.path.lstrip("/")),
        USER=unquote(parts.username or ""),
        PASSWORD=unquote(parts.password or ""),
        HOST=parts.hostname or "",
        PORT=str(parts.port or ""),
    )
    call_command("migrate", run_syncdb=True, verbosity=0)
    with connections["default"].cursor() as cursor:
        cursor.execute("SHOW fsync")
        (fsync,) = cursor.fetchone()
    if fsync != database.durability["fsync"]:
        raise RuntimeError(f"Django reaches a server with fsync={fsync}, not {database.label}")
    connections.close_all()


def truncate(*tables: str) -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)}")


def unique_name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


# -- rounds and ratios -------------------------------------------------------------------

Measure = Callable[[], float]


def take_turns(measures: Mapping[str, Measure], rounds: int, title: str) -> dict[str, list[float]]:
    """Run every measure once a round, the order rotated each round: the machine is shared and
    its load drifts, so no measure may always go first. Each returns events per second."""
    runs: dict[str, list[float]] = {key: [] for key in measures}
    for round_no in range(rounds):
        for key in turn_order(list(measures), round_no):
            runs[key].append(measures[key]())
        figures = "  ".join(f"{key}={values[-1]:,.0f}/s" for key, values in runs.items())
        print(f"  {title}, round {round_no + 1}: {figures}", flush=True)
    return runs


def turn_order(keys: Sequence[str], round_no: int) -> list[str]:
    """`keys` rotated by `round_no`: who goes first changes every round."""
    shift = round_no % len(keys)
    return [*keys[shift:], *keys[:shift]]


def medians(runs: Mapping[str, list[float]]) -> dict[str, float]:
    return {key: statistics.median(values) for key, values in runs.items()}


@dataclass(frozen=True)
class Ratio:
    """`ours` over `ceiling`, two figures of the same kind of work; `target` is printed with
    met/missed, never enforced: a floor, or with `at_most` a ceiling (a cost: lower is better)."""

    label: str
    ours: str
    ceiling: str
    target: float | None = None
    at_most: bool = False

    def evaluate(self, median: Mapping[str, float]) -> dict[str, Any]:
        value = median[self.ours] / median[self.ceiling]
        result: dict[str, Any] = {
            "label": self.label,
            "ours": self.ours,
            "ceiling": self.ceiling,
            "value": round(value, 3),
        }
        if self.target is not None:
            met = value <= self.target if self.at_most else value >= self.target
            result.update(target=self.target, met=met)
            if self.at_most:
                result["at_most"] = True
        return result


def report(
    title: str,
    figures: Mapping[str, str],
    runs: Mapping[str, list[float]],
    ratios: Sequence[Ratio],
    **context: Any,
) -> dict[str, Any]:
    """Print the medians (labelled by `figures`) and the ratios; return them for the JSON."""
    median = medians(runs)
    print(f"\n{title}, events/s (median of {len(next(iter(runs.values())))} rounds)")
    width = max(len(label) for label in figures.values())
    for key, label in figures.items():
        print(f"  {label:<{width}}  {median[key]:>10,.0f}")
    evaluated = [ratio.evaluate(median) for ratio in ratios]
    for ratio in evaluated:
        line = f"  {ratio['label']:<{width}}  {ratio['value']:>9.2f}x"
        if "target" in ratio:
            bound = "<=" if ratio.get("at_most") else ">="
            line += f"   target {bound} {ratio['target']}x: {'met' if ratio['met'] else 'MISSED'}"
        print(line)
    print(flush=True)
    return {
        "title": title,
        **context,
        "figures": dict(figures),
        "events_per_second": {"runs": dict(runs), "median": median},
        "ratios": evaluated,
    }


def write_results(name: str, results: dict[str, Any]) -> Path:
    """Write bench/results/<name>.json, with the machine it ran on and how busy it was."""
    results["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        # the machine is shared: a load above the CPU count means the figures ran squeezed
        "load_average_1_5_15_min": [round(load, 2) for load in os.getloadavg()],
    }
    path = RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {path.relative_to(REPO)}")
    return path
