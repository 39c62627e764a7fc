"""bench/soak_report.py: the soak's plateau verdict on synthetic series, its table and its SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from bench import soak_report

MINUTES_10 = [float(t) for t in range(0, 601, 10)]


def sawtooth_level(t: float) -> float:
    """Rows of a table whose purge keeps pace: rising for two minutes, then a level of about
    300 that a purge every 20 s cuts back by 40."""
    if t < 120:
        return 2.5 * t
    return 300 + (t % 20) * 2


@pytest.mark.parametrize(
    ("values", "levels_off"),
    [
        pytest.param([2.0 * t for t in MINUTES_10], False, id="a table that keeps every row"),
        pytest.param([sawtooth_level(t) for t in MINUTES_10], True, id="rises, then holds"),
        pytest.param(
            [0.0 if t < 400 else t - 400 for t in MINUTES_10], False, id="flat, then grows late"
        ),
        pytest.param(
            [100.0 + (1.5 if n % 3 else -1.0) for n in range(len(MINUTES_10))],
            True,
            id="memory wobbling around a level",
        ),
        pytest.param([0.0] * len(MINUTES_10), True, id="never anything"),
        pytest.param([500.0 - t / 2 for t in MINUTES_10], True, id="shrinking"),
    ],
)
def test_the_verdict_tells_a_level_from_growth(values: list[float], levels_off: bool) -> None:
    points = list(zip(MINUTES_10, values, strict=True))
    assert soak_report.verdict(points).levels_off is levels_off


def test_a_purge_sampled_near_its_own_period_levels_off() -> None:
    """A purge every 10.3 s sampled every 10 s: the samples drift down the sawtooth, then jump
    back to its top (the soak's saga table did this); no new high, so it levels off."""
    points = [(t, 120 + 20 * (1 - (t % 10.3) / 10.3)) for t in MINUTES_10]
    assert soak_report.verdict(points).levels_off is True


def test_a_small_table_of_windows_levels_off_whatever_its_last_sample() -> None:
    """Rate-limit windows: 8 tokens, a few more rows while windows overlap, purged after."""
    values = [8.0] * len(MINUTES_10)
    values[25], values[-1] = 15.0, 14.0
    assert soak_report.verdict(list(zip(MINUTES_10, values, strict=True))).levels_off is True


def test_a_slow_leak_within_the_noise_band_still_levels_off() -> None:
    """The rule's stated limit: 3% of a process's memory per third of the run is not seen."""
    points = [(t, 100.0 + 0.03 * 100 * t / 200) for t in MINUTES_10]
    assert soak_report.verdict(points).levels_off is True


def test_the_verdict_reports_first_last_min_max_and_both_rises() -> None:
    found = soak_report.verdict([(0.0, 0.0), (30.0, 30.0), (60.0, 60.0), (90.0, 60.0)])
    assert (found.first, found.last, found.min, found.max) == (0.0, 60.0, 0.0, 60.0)
    assert (found.max_before_last_third, found.max_last_third) == (30.0, 60.0)
    assert found.rise_first_third == 30.0
    assert found.rise_last_third == 0.0


def test_slope_is_the_least_squares_one() -> None:
    assert soak_report.slope([(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]) == 2.0
    assert soak_report.slope([(5.0, 1.0)]) == 0.0


def test_series_not_judged_are_summarised_without_a_verdict() -> None:
    samples = [{"t": t, "values": {"load.http_202": t, "rows.outbox": t}} for t in MINUTES_10]
    judged = soak_report.judge(samples, not_judged=("load.",))
    assert judged["load.http_202"]["levels_off"] is None
    assert judged["rows.outbox"]["levels_off"] is False
    assert judged["rows.outbox"]["last"] == 600.0


def test_the_table_lists_what_changed_and_counts_the_rest() -> None:
    samples = [{"t": t, "values": {"rows.outbox": t, "rows.auth_user": 8}} for t in MINUTES_10]
    printed = soak_report.table(soak_report.judge(samples))
    assert "rows.outbox" in printed
    assert "GROWS" in printed
    assert "rows.auth_user" not in printed
    assert "(1 more series never changed)" in printed


def test_the_svg_draws_one_coloured_line_per_series_that_moved() -> None:
    samples = [
        {"t": t, "values": {"rows.kept": 2 * t, "rows.purged": sawtooth_level(t), "flat": 3}}
        for t in MINUTES_10
    ]
    drawing = soak_report.svg(
        soak_report.series_of(samples), soak_report.judge(samples), title="a & b"
    )
    root = ET.fromstring(drawing)  # noqa: S314 - our own drawing
    ns = {"svg": "http://www.w3.org/2000/svg"}
    lines = root.findall("svg:polyline", ns)
    assert sorted(str(line.get("stroke")) for line in lines) == sorted(
        [soak_report.COLOURS[True], soak_report.COLOURS[False]]
    )
    assert all(len(str(line.get("points")).split()) == len(MINUTES_10) for line in lines)
    labels = [text.text for text in root.findall("svg:text", ns)]
    assert "a & b" in labels
    assert "flat" not in labels
