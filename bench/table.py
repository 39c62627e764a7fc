"""The benchmark table of docs/benchmarks.md, derived from bench/results/*.json (what `make bench`
wrote).

    .venv/bin/python bench/table.py           # rewrite the table between the page's markers
    .venv/bin/python bench/table.py --check   # exit 1 if the page's table is not the derived one

One row per ratio the scripts computed, with the two figures it divides and its target (met or
missed), and the machine's load when each file was written: the figures are never typed by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "bench" / "results"
PAGE = REPO / "docs" / "benchmarks.md"
START = "<!-- bench-table:start (bench/table.py writes this table from bench/results/*.json) -->"
END = "<!-- bench-table:end -->"
# the order of the rows; a results file not named here comes after these, by name
ORDER = ("publish", "consume", "cluster", "peer", "saga", "tracing", "contract_validation")


def rows(name: str, results: Mapping[str, Any]) -> Iterator[list[str]]:
    """The table's rows for one results file: [source, question, figures, ratio, target]."""
    if name == "saga":
        yield from _saga_rows(results)
        return
    if name.startswith("soak"):
        yield _soak_row(name, results)
        return
    if name == "contract_validation":
        yield [
            "contract_validation",
            "one call's request + response validation",
            f"openapi-core {results['mean_openapi_core_ms']:.2f} ms, "
            f"ours (cached validators) {results['mean_cached_ms']:.2f} ms",
            f"{results['ratio']:.2f}x faster",
            "",
        ]
        return
    for section in _sections(results):
        median = section["events_per_second"]["median"]
        for ratio in section["ratios"]:
            target = ""
            if "target" in ratio:
                bound = "≤" if ratio.get("at_most") else "≥"
                target = f"{bound} {ratio['target']}x: {'met' if ratio['met'] else '**missed**'}"
            yield [
                name,
                f"{_short(section['title'])}: {ratio['label']}",
                f"{median[ratio['ours']]:,.0f} / {median[ratio['ceiling']]:,.0f}",
                f"{ratio['value']:.2f}x",
                target,
            ]
    if name == "cluster":
        yield from _failover_rows(results["failover"])


def _failover_rows(failover: Mapping[str, Any]) -> Iterator[list[str]]:
    """bench/bench_cluster.py: seconds from a node's SIGKILL to the client's first success
    through another node (no ratio: a time, its median and max over the kills)."""
    for row in failover["summary"]:
        yield [
            "cluster",
            f"RabbitMQ cluster failover: {row['label']} (seconds; lower is better)",
            f"median {row['median_s']:.2f} s, max {row['max_s']:.2f} s ({row['kills']} kills)",
            "",
            "",
        ]


def _short(title: str) -> str:
    """A section title with the PostgreSQL settings said briefly (the JSON keeps them all)."""
    return title.replace(
        "PostgreSQL fsync=off synchronous_commit=off full_page_writes=off", "PostgreSQL fsync off"
    ).replace("PostgreSQL fsync=on synchronous_commit=on full_page_writes=on", "PostgreSQL durable")


def _sections(results: Any) -> Iterator[Mapping[str, Any]]:
    """Every block of the results that carries medians and ratios (report() in support.py)."""
    if isinstance(results, Mapping):
        if "ratios" in results and "events_per_second" in results:
            yield results
            return
        for value in results.values():
            yield from _sections(value)
    elif isinstance(results, list):
        for value in results:
            yield from _sections(value)


def _saga_rows(results: Mapping[str, Any]) -> Iterator[list[str]]:
    target = float(results["target_ratio"])
    for run in results["end_to_end"]:
        ratio = float(run["ratio_median"])
        yield [
            "saga",
            f"the order saga against its five direct calls, contract validation "
            f"{run['contract_validation']} (median ms; lower is better)",
            f"{run['saga']['median_ms']:.2f} / {run['direct']['median_ms']:.2f} ms",
            f"{ratio:.2f}x",
            f"≤ {target}x: {'met' if ratio <= target else '**missed**'}",
        ]


def _soak_row(name: str, results: Mapping[str, Any]) -> list[str]:
    """bench/soak.py: how many sizes and memories level off; with shortened retention, all
    must (the rule is in the JSON)."""
    verdict = results["verdict"]
    growing = ", ".join(verdict["growing"]) or "none"
    target = ""
    if results["settings"]["retention"] == "short":
        met = verdict["level_off"] == verdict["judged"]
        target = f"all level off: {'met' if met else '**missed**'}"
    return [
        name,
        f"{results['title']}: series (tables, queues or streams, process memory) that level off",
        f"{verdict['level_off']} of {verdict['judged']}; growing: {growing}",
        "",
        target,
    ]


def load(name: str) -> str:
    """The load averages a results file recorded."""
    results = json.loads((RESULTS_DIR / f"{name}.json").read_text())
    machine = results.get("machine", {})
    load = machine.get("load_average_1_5_15_min") or results.get("load_average_at_end")
    return " / ".join(f"{x:g}" for x in load) if load else "not recorded"


def table() -> str:
    names = sorted(
        (path.stem for path in RESULTS_DIR.glob("*.json")),
        key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n),
    )
    lines = [
        "| script | ratio | figures: ours / ceiling (events/s unless stated) | value | target |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        results = json.loads((RESULTS_DIR / f"{name}.json").read_text())
        lines.extend("| " + " | ".join(row) + " |" for row in rows(name, results))
    loads = ", ".join(f"{name} {load(name)}" for name in names)
    lines += ["", f"Load averages (1 / 5 / 15 min) when each file was written: {loads}."]
    return "\n".join(lines)


def rewrite(page: str, generated: str) -> str:
    before, start, rest = page.partition(START)
    _, end, after = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"{PAGE.relative_to(REPO)} has no {START!r} ... {END!r} block")
    return f"{before}{START}\n{generated}\n{END}{after}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the page's table is stale")
    args = parser.parse_args()
    page = PAGE.read_text()
    updated = rewrite(page, table())
    name = PAGE.relative_to(REPO)
    if args.check:
        if updated != page:
            print(f"{name}'s benchmark table is not the one bench/results/*.json give")
            return 1
        return 0
    PAGE.write_text(updated)
    print(f"{name}: benchmark table rewritten from bench/results/*.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
