"""The sequence diagram's layout: lanes, width and rows sized to their text, bands from the
recorded spans; the scenes' texts, one file each, shown by the report and included by the docs."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from markdown.extensions.toc import slugify  # type: ignore[import-untyped]

from project.demo.report.about import (
    SceneTextError,
    docs_anchor,
    inline_html,
    load_scene_text,
)
from project.demo.report.layout import ARROW_ROOM, IDS, LABEL, MARGIN, NOTE, OUTSIDE, layout
from project.demo.report.model import Interaction, SceneRecording, Span
from project.demo.report.sequence import render_sequence_svg
from project.demo.report.textwidth import text_width
from tests.test_demo_report_drawing import recording

REPO = Path(__file__).resolve().parents[2]


def http(t_ms: float, target: str, path: str, **more: Any) -> Interaction:
    item: dict[str, Any] = {
        "kind": "http",
        "t_ms": t_ms,
        "source": "django",
        "target": target,
        "method": "POST",
        "path": path,
        "status": 201,
        "duration_ms": 1.5,
        "request_id": "req-1",
        "idempotency_key": None,
        "replayed": False,
    }
    item.update(more)
    return item  # type: ignore[return-value]


def enqueued(t_ms: float) -> Interaction:
    return {
        "kind": "event",
        "t_ms": t_ms,
        "source": "django",
        "target": "outbox",
        "action": "enqueued",
        "event_type": "payment.processed",
        "event_id": "e-1",
        "detail": "",
    }


def span(kind: str, label: str, start: float, end: float, detail: str = "") -> Span:
    return Span(kind=kind, label=label, detail=detail, start_ms=start, end_ms=end)  # type: ignore[typeddict-item]


def scene(interactions: list[Interaction], spans: list[Span] | None = None) -> SceneRecording:
    return recording(interactions=interactions, spans=spans or [])


def _ends(plan: Any, rec: SceneRecording) -> list[tuple[float, float]]:
    """For each arrow: where its widest line ends, and the lifeline it must end before."""
    found = []
    for row in plan.rows:
        item = rec["interactions"][row.index]
        if item["kind"] == "note":
            continue
        x1, x2 = plan.x[item["source"]], plan.x[item["target"]]
        widths = [text_width(line, LABEL if n == 0 else IDS) for n, line in enumerate(row.lines)]
        found.append((min(x1, x2) + 6 + max(widths), max(x1, x2)))
    return found


def test_each_arrows_text_fits_between_its_two_lifelines_and_inside_the_drawing():
    """A long path to the nearest lifeline and a long key to the farthest one widen the lanes
    they cross, so no label runs past the lifeline its arrow ends on, nor off the drawing."""
    rec = scene(
        [
            http(1, "users", "/users/" + "x" * 80),
            http(2, "inventory", "/reservations", idempotency_key="k" * 120),
            http(3, "payments", "/payments"),
        ]
    )
    plan = layout(rec)
    assert plan.names == ["django", "users", "payments", "inventory"]
    for end, lifeline in _ends(plan, rec):
        assert end <= lifeline - ARROW_ROOM + 6 + 0.01
        assert end + MARGIN <= plan.width
    assert plan.x["users"] - plan.x["django"] > text_width("/users/" + "x" * 80, LABEL)


def test_a_lane_is_as_wide_as_its_widest_label_needs_and_no_wider():
    """One short arrow: the lane is its label plus the room at both ends; with no arrow at all,
    as wide as the two name boxes need."""
    rec = scene([http(1, "users", "/u")])
    plan = layout(rec)
    label = "POST /u  → 201 · 1.5 ms"
    assert plan.rows[0].lines[0] == label
    assert plan.x["users"] - plan.x["django"] == pytest.approx(
        text_width(label, LABEL) + 6 + ARROW_ROOM
    )
    quiet = layout(scene([{"kind": "note", "t_ms": 1, "text": "n"}]))
    assert quiet.names == ["django"]


def test_a_long_note_the_times_and_the_band_labels_widen_the_drawing():
    """The note's box holds its text; the time column its longest time; the bands' column
    its widest label."""
    text = "worker A killed at after_action:process_payment " * 3
    rec = scene(
        [http(123456, "users", "/u"), {"kind": "note", "t_ms": 123460, "text": text}],
        [span("action", "a_step_with_a_rather_long_name_indeed", 123000, 123458)],
    )
    plan = layout(rec)
    assert plan.gutter >= text_width("+123460 ms", 10) + 10
    assert plan.band_x >= plan.gutter + 18 + text_width(text, NOTE) + 18
    assert plan.width - plan.band_x >= text_width(
        "a_step_with_a_rather_long_name_indeed", 10, bold=True
    )


def test_rows_fall_in_the_band_of_their_step_attempt_set_up_greyed():
    """Calls in a step's attempt join its band; an enqueued event joins the attempt that ended
    last before it (it commits with that attempt's close); a call inside `demo.aside()` is
    set-up; in a saga scene any other call is the scene's own."""
    setup = span("aside", "set-up", 0, 5)
    more = span("aside", "set-up", 5, 8)
    pay = span("action", "process_payment", 10, 20, "action #1")
    order = span("action", "create_order", 20, 40, "action #1")
    rec = scene(
        [
            http(1, "inventory", "/products"),
            http(6, "users", "/users"),
            http(12, "payments", "/payments"),
            enqueued(20.5),
            http(30, "orders", "/orders"),
            http(50, "inventory", "/products/x"),
        ],
        [pay, order, setup, more],
    )
    plan = layout(rec)
    assert [row.span for row in plan.rows] == [setup, more, pay, pay, order, OUTSIDE]
    assert [(b.span["label"], b.bottom - b.top) for b in plan.bands] == [
        ("set-up", 80),
        ("process_payment", 80),
        ("create_order", 40),
        ("the scene's own calls", 40),
    ]
    svg = render_sequence_svg(rec)
    assert svg.count('class="interaction http aside"') == 3
    assert svg.count('<g class="band action">') == 2


def test_a_replay_gets_its_own_line_and_a_taller_row():
    """The stub's mark plus an earlier call with the key: the row says which call it replays."""
    rec = scene(
        [
            http(449.4, "inventory", "/reservations", idempotency_key="k1", status=None),
            http(452, "inventory", "/reservations", idempotency_key="k1", replayed=True),
        ]
    )
    plan = layout(rec)
    note = "replayed: same Idempotency-Key as +449 ms, answered from the stub's idempotency store"
    assert [row.lines[2:] for row in plan.rows] == [(), (note,)]
    assert [row.height for row in plan.rows] == [40, 53]
    svg = render_sequence_svg(rec)
    assert re.search(rf'<text class="replay-note" x="\d+" y="{plan.rows[1].y + 26:.0f}"', svg)


def _about_names() -> list[str]:
    tree = ast.parse((REPO / "django_app/project/demo/__main__.py").read_text(encoding="utf-8"))
    return [
        str(kw.value.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Scene"
        for kw in node.keywords
        if kw.arg == "about" and isinstance(kw.value, ast.Constant)
    ]


def test_every_scene_has_one_text_that_the_docs_include_once():
    """Each scene names its docs/scenes/<about>.md, which reads as three labelled paragraphs
    and is included by docs/failures.md exactly once (the one copy of the text)."""
    names = _about_names()
    assert len(names) >= 11
    failures = (REPO / "docs/failures.md").read_text(encoding="utf-8")
    for name in names:
        text = load_scene_text(REPO / "docs/scenes" / f"{name}.md")
        assert (name, all((text.fails, text.does, text.shows))) == (name, True)
        assert (name, failures.count(f'--8<-- "scenes/{name}.md"')) == (name, 1)
    assert sorted(p.stem for p in (REPO / "docs/scenes").glob("*.md")) == sorted(names)


def test_a_scene_text_that_is_not_three_labelled_paragraphs_is_refused(tmp_path):
    path = tmp_path / "x.md"
    path.write_text("**What fails:** a.\n\n**What the system does:** b.\n", encoding="utf-8")
    with pytest.raises(SceneTextError, match="2 paragraphs, expected 3"):
        load_scene_text(path)
    path.write_text("**What fails:** a.\n\nb.\n\n**What the picture shows:** c.", encoding="utf-8")
    with pytest.raises(SceneTextError, match=r"must open with \*\*What the system does:\*\*"):
        load_scene_text(path)
    with pytest.raises(SceneTextError, match="no scene text"):
        load_scene_text(tmp_path / "missing.md")


def test_the_link_to_a_scenes_section_is_the_id_the_docs_give_its_heading():
    """The report's anchor is Python-Markdown's toc slug of `N. title`, for every title."""
    tree = ast.parse((REPO / "django_app/project/demo/__main__.py").read_text(encoding="utf-8"))
    titles = [
        str(node.args[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "Scene"
        and isinstance(node.args[0], ast.Constant)
    ]
    for n, title in enumerate(titles, 1):
        assert docs_anchor(f"{n}. {title}") == slugify(f"{n}. {title}", "-")


def test_a_scene_texts_markdown_becomes_escaped_html_linking_into_the_built_docs():
    html = inline_html(
        "**Bold** `a<b>` *em* & [Retries](clients.md#retries) [x](https://example.com/a)",
        docs_base="../../build/site",
    )
    assert html == (
        "<strong>Bold</strong> <code>a&lt;b&gt;</code> <em>em</em> &amp; "
        '<a href="../../build/site/clients.html#retries">Retries</a> '
        '<a href="https://example.com/a">x</a>'
    )
    assert re.search(r"<script", inline_html("<script>x</script>", docs_base=".")) is None
