"""The demo report's drawing code on hand-made recordings: escaping, lifelines, determinism."""

from __future__ import annotations

import copy
import json

import pytest

from project.demo.report.model import (
    RECORDING_VERSION,
    RecordingError,
    SceneRecording,
    dump_recording,
    load_recording,
)
from project.demo.report.page import render_report_html
from project.demo.report.sequence import main, render_sequence_svg


def recording(**changes: object) -> SceneRecording:
    scene = SceneRecording(
        version=RECORDING_VERSION,
        number=3,
        slug="03-a-scene",
        title="A <scene> & co",
        summary="What it shows.",
        stack="embedded",
        request_id="req-0001",
        passed=True,
        error=None,
        duration_ms=12.0,
        interactions=[
            {
                "kind": "http",
                "t_ms": 1.0,
                "source": "django",
                "target": "payments",
                "method": "POST",
                "path": "/payments/<script>alert(1)</script>",
                "status": 402,
                "duration_ms": 2.5,
                "request_id": "req-0001",
                "idempotency_key": "order-7:process_payment:action",
                "replayed": False,
            },
            {
                "kind": "event",
                "t_ms": 3.0,
                "source": "django",
                "target": "outbox",
                "action": "enqueued",
                "event_type": "payment.processed",
                "event_id": "0f16adb4-0000-4000-8000-000000000000",
                "detail": "",
            },
        ],
        calls=[],
        checks=[{"name": "a <b> check", "passed": True, "expected": "1", "actual": "1"}],
        sagas=[],
        spans=[],
        figures=[],
    )
    scene.update(changes)  # type: ignore[typeddict-item]
    return scene


def test_sequence_draws_only_the_lifelines_used_in_their_fixed_order():
    """django, payments, outbox: no lifeline for a party the scene never touched."""
    svg = render_sequence_svg(recording())
    assert [part.split('"')[0] for part in svg.split('data-name="')[1:]] == [
        "django",
        "payments",
        "outbox",
    ]


def test_sequence_labels_carry_status_duration_ids_and_are_escaped():
    """The arrow's label has method, path, status and duration; its line the request id and
    Idempotency-Key; the event arrow its id; markup in any of them is escaped."""
    svg = render_sequence_svg(recording())
    assert "POST /payments/&lt;script&gt;alert(1)&lt;/script&gt;  → 402 · 2.5 ms" in svg
    assert "<script" not in svg
    assert "req req-0001 · Idempotency-Key order-7:process_payment:action<" in svg
    assert "enqueued payment.processed" in svg
    assert "event 0f16adb4…" in svg


def test_sequence_is_deterministic_and_the_command_writes_the_same_bytes(tmp_path):
    """Two renderings of one recording are equal, and equal to what the command writes."""
    path = tmp_path / "scene.json"
    path.write_text(dump_recording(recording()), encoding="utf-8")
    first = render_sequence_svg(load_recording(path))
    assert render_sequence_svg(copy.deepcopy(recording())) == first
    assert main([str(path), str(tmp_path / "scene.svg")]) == 0
    assert (tmp_path / "scene.svg").read_text(encoding="utf-8") == first + "\n"


def test_an_empty_scene_says_so_instead_of_drawing_nothing():
    svg = render_sequence_svg(recording(interactions=[]))
    assert "no service call and no event in this scene" in svg


def test_a_recording_of_another_version_is_refused_with_a_typed_error(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"version": RECORDING_VERSION + 1}), encoding="utf-8")
    with pytest.raises(
        RecordingError,
        match=f"recording version {RECORDING_VERSION + 1}, this renderer reads {RECORDING_VERSION}",
    ):
        load_recording(path)
    path.write_text("not json", encoding="utf-8")
    with pytest.raises(RecordingError, match="not a readable JSON recording"):
        load_recording(path)


def test_page_escapes_titles_and_checks_and_marks_a_failed_scene():
    page = render_report_html(
        [recording(), recording(number=4, slug="04-b", passed=False, error="Boom <x>")],
        stack="embedded",
        elapsed_s=1.5,
        generated_at="2026-12-02 03:00:00 UTC",
    )
    assert "3. A &lt;scene&gt; &amp; co" in page
    assert "<td>a &lt;b&gt; check</td>" in page
    assert "<pre class=error>Boom &lt;x&gt;</pre>" in page
    assert "1 scene(s) failed" in page
    assert page.count("<svg") == 2
