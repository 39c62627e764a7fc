"""bench/table.py: the benchmark table of docs/benchmarks.md is derived from the results JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import table
from bench.support import Ratio


def consume_results() -> dict[str, Any]:
    section = {
        "title": "RabbitMQ consume, PostgreSQL "
        "fsync=off synchronous_commit=off full_page_writes=off",
        "events_per_second": {"median": {"ours": 500.0, "raw_ack": 2000.0}},
        "ratios": [
            {"label": "ours / raw", "ours": "ours", "ceiling": "raw_ack", "value": 0.25}
            | {"target": 0.5, "met": False}
        ],
    }
    return {"phases": [{"rabbitmq": section}], "machine": {"load_average_1_5_15_min": [2, 1, 0.5]}}


def test_every_ratio_becomes_a_row_with_its_figures_and_its_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "consume.json").write_text(json.dumps(consume_results()))
    monkeypatch.setattr(table, "RESULTS_DIR", tmp_path)
    generated = table.table()
    assert (
        "| consume | RabbitMQ consume, PostgreSQL fsync off: ours / raw | 500 / 2,000 | 0.25x "
        "| ≥ 0.5x: **missed** |" in generated
    )
    assert "consume 2 / 1 / 0.5" in generated


def test_a_soak_becomes_one_row_naming_what_grows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    soak = {
        "title": "Soak: 10 min at 2 orders/s on rabbitmq, retention short",
        "settings": {"retention": "short"},
        "verdict": {"judged": 3, "level_off": 2, "growing": ["rows.inbox"]},
        "machine": {"load_average_1_5_15_min": [1, 1, 1]},
    }
    (tmp_path / "soak.json").write_text(json.dumps(soak))
    monkeypatch.setattr(table, "RESULTS_DIR", tmp_path)
    assert (
        "| soak | Soak: 10 min at 2 orders/s on rabbitmq, retention short: series (tables, "
        "queues or streams, process memory) that level off | 2 of 3; growing: rows.inbox |  "
        "| all level off: **missed** |" in table.table()
    )


def test_the_page_block_is_replaced_and_a_missing_block_is_an_error() -> None:
    page = f"intro\n{table.START}\nold table\n{table.END}\nafter\n"
    assert table.rewrite(page, "new") == f"intro\n{table.START}\nnew\n{table.END}\nafter\n"
    with pytest.raises(SystemExit, match="no"):
        table.rewrite("no markers here", "new")


def test_the_page_table_is_the_one_the_committed_results_give() -> None:
    """Regenerate it with `bench/table.py` (make bench does) whenever bench/results changes."""
    page = table.PAGE.read_text()
    assert table.rewrite(page, table.table()) == page


def test_the_cluster_results_give_their_ratios_and_a_row_per_failover_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench_cluster.py: the relay's cluster / one node ratio as any ratio, and each kind of
    node kill as its median and max seconds."""
    relay = {
        "title": "RabbitMQ relay",
        "events_per_second": {"median": {"cluster": 900.0, "one_node": 1800.0}},
        "ratios": [
            {"label": "cluster / one node", "ours": "cluster", "ceiling": "one_node", "value": 0.5}
        ],
    }
    failover = {
        "summary": [
            {
                "label": "SIGKILL of the publisher's node to the first confirmed publish",
                "kills": 3,
                "median_s": 0.25,
                "max_s": 1.5,
            }
        ]
    }
    results = {"relay": relay, "failover": failover, "machine": {}}
    (tmp_path / "cluster.json").write_text(json.dumps(results))
    monkeypatch.setattr(table, "RESULTS_DIR", tmp_path)
    generated = table.table()
    assert "| cluster | RabbitMQ relay: cluster / one node | 900 / 1,800 | 0.50x |  |" in generated
    assert (
        "| cluster | RabbitMQ cluster failover: SIGKILL of the publisher's node to the first "
        "confirmed publish (seconds; lower is better) | median 0.25 s, max 1.50 s (3 kills) "
        "|  |  |" in generated
    )


def test_a_cost_ratio_shows_its_target_as_a_ceiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench_tracing.py: on / off is a cost, met when at most its target (Ratio(at_most=True))."""
    section = {
        "title": "Order saga, tracing on vs off",
        "events_per_second": {"median": {"saga_off": 20.0, "saga_on": 17.0}},
        "ratios": [
            {"label": "on / off", "ours": "saga_off", "ceiling": "saga_on", "value": 1.18}
            | {"target": 1.1, "met": False, "at_most": True}
        ],
    }
    (tmp_path / "tracing.json").write_text(json.dumps({"saga": section, "machine": {}}))
    monkeypatch.setattr(table, "RESULTS_DIR", tmp_path)
    assert (
        "| tracing | Order saga, tracing on vs off: on / off | 20 / 17 | 1.18x "
        "| ≤ 1.1x: **missed** |" in table.table()
    )


def test_a_cost_ratio_is_met_at_or_under_its_target_and_a_floor_at_or_over() -> None:
    cost = Ratio("on / off", "off", "on", 1.1, at_most=True)
    assert cost.evaluate({"off": 110.0, "on": 100.0}) == {
        "label": "on / off",
        "ours": "off",
        "ceiling": "on",
        "value": 1.1,
        "target": 1.1,
        "met": True,
        "at_most": True,
    }
    assert cost.evaluate({"off": 120.0, "on": 100.0})["met"] is False
    floor = Ratio("ours / raw", "ours", "raw", 0.5)
    assert floor.evaluate({"ours": 60.0, "raw": 100.0})["met"] is True
    assert "at_most" not in floor.evaluate({"ours": 40.0, "raw": 100.0})
