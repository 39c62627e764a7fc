"""The docs' diagrams: generated from the code, committed, and never stale."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from django_interlink.sagas.definition import SagaDefinition, SagaStep, StepContext
from django_interlink.sagas.graph import state_graph
from django_interlink.sagas.state import Outcome
from shop.order_processing import ORDER_PROCESSING
from tools.diagrams import catalogue
from tools.diagrams.catalogue import DIAGRAMS, ROOT, diagrams, stale, write_all
from tools.diagrams.saga import arrows, saga_svg

SVG = "{http://www.w3.org/2000/svg}"


def _noop(ctx: StepContext) -> None:
    pass


def test_committed_diagrams_are_not_stale() -> None:
    """Each file in docs/diagrams/ is what the code draws now (else: run `make diagrams`)."""
    assert [d.name for d in stale()] == []


def test_every_committed_diagram_is_generated_and_included_by_a_page() -> None:
    """No hand-made or orphaned file in docs/diagrams/, and every drawing is shown somewhere."""
    names = {d.name for d in diagrams()}
    assert {p.name for p in DIAGRAMS.iterdir()} == names
    pages = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md"))
    assert {n for n in names if f'--8<-- "diagrams/{n}"' not in pages} == set()


def test_every_configured_saga_definition_has_its_diagrams() -> None:
    """The catalogue draws what SAGA['DEFINITIONS'] names: the order saga, SVG and Mermaid."""
    names = {d.name for d in diagrams()}
    assert {"saga-order_processing.svg", "saga-order_processing.mmd"} <= names


def test_saga_diagram_draws_every_state_and_every_transition_of_the_graph() -> None:
    """One node per state of state_graph(); every edge is drawn, as the arrow between its two
    states or, where a pass of undos ends or starts again, from or to the undos' frame; dashed
    exactly where some outcome it stands for is not a success."""
    graph = state_graph(ORDER_PROCESSING)
    root = ET.fromstring(saga_svg(ORDER_PROCESSING))  # noqa: S314 - our own drawing
    keys = [g.get("data-key") for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
    assert keys == [n.key for n in graph.nodes]
    undos = {n.key for n in graph.nodes if n.kind == "compensation"}
    expected: dict[tuple[str, str], set[Outcome | None]] = {}
    for e in graph.edges:
        source = "undos" if e.source in undos and e.target not in undos else e.source
        target = "undos" if e.source == "wait" else e.target
        expected.setdefault((source, target), set()).add(e.outcome)
    assert set(arrows(graph)) == set(expected)
    edges = [e for e in root.iter(f"{SVG}polyline") if e.get("class") == "edge"]
    assert len(edges) == len(expected) + 1
    dashed = [e for e in edges if e.get("stroke-dasharray")]
    assert len(dashed) == sum(outcomes != {Outcome.SUCCEEDED} for outcomes in expected.values())
    assert ("undos", "wait") in expected and ("wait", "undos") in expected


def test_saga_diagram_follows_the_definition() -> None:
    """Another definition, another drawing: an undo on the first step leaves FAILED out."""
    definition = SagaDefinition(
        "undo_first", [SagaStep("hold", _noop, compensation=_noop), SagaStep("ship", _noop)]
    )
    svg = saga_svg(definition)
    assert ">undo hold<" in svg
    assert 'data-key="failed"' not in svg
    assert 'data-key="compensated"' in svg
    assert saga_svg(definition) == svg  # same definition, same bytes


def test_the_generator_rewrites_a_stale_file_and_then_finds_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """write_all() writes what differs; stale() then finds nothing, and it names what it fixed."""
    monkeypatch.setattr(catalogue, "DIAGRAMS", tmp_path)
    assert {d.name for d in stale()} == {d.name for d in diagrams()}
    assert {p.name for p in write_all()} == {d.name for d in diagrams()}
    (tmp_path / "saga-order_processing.svg").write_text("<svg/>", encoding="utf-8")
    assert [d.name for d in stale()] == ["saga-order_processing.svg"]
    assert [p.name for p in write_all()] == ["saga-order_processing.svg"]
    assert stale() == []


@pytest.mark.parametrize("name", ["architecture.svg", "events.svg", "saga-order_processing.svg"])
def test_diagrams_are_well_formed_svg_that_fetch_nothing(name: str) -> None:
    """Parsable XML whose only URL is the SVG namespace: nothing to load when viewed."""
    text = (DIAGRAMS / name).read_text(encoding="utf-8")
    root = ET.fromstring(text)  # noqa: S314 - a committed file of ours
    assert root.tag == f"{SVG}svg"
    assert text.count("://") == 1
    assert root.find(f"{SVG}title") is not None


def test_check_command_passes_on_the_committed_diagrams() -> None:
    """`python -m tools.diagrams --check` (what a reader runs) exits 0 and writes nothing."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'django_app'}{os.pathsep}{ROOT}"}
    result = subprocess.run(
        [sys.executable, "-m", "tools.diagrams", "--check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "")


def test_readme_shows_the_one_architecture_diagram() -> None:
    """The parts are drawn in one place: the README embeds the docs' SVG, no copy of its own."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/diagrams/architecture.svg" in readme
    assert "```mermaid" not in readme
    assert Path(DIAGRAMS / "architecture.svg").exists()
