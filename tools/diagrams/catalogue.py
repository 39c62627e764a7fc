"""Every generated diagram: where it is committed and the function that draws it.

Import it with Django set up (the saga diagrams read INTERLINK['SAGA']['DEFINITIONS']).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django_interlink.sagas.mermaid import saga_to_mermaid
from django_interlink.sagas.registry import configured_definitions
from project.demo.report.model import load_recording
from project.demo.report.sequence import render_sequence_svg

from .architecture import architecture_svg
from .events import events_svg
from .saga import saga_svg

ROOT = Path(__file__).resolve().parents[2]
DIAGRAMS = ROOT / "docs" / "diagrams"
# Scenes of a demo run, recorded with `python -m project.demo --record DIR` and committed.
RECORDINGS = ROOT / "docs" / "recordings"


@dataclass(frozen=True)
class Diagram:
    # Relative to docs/diagrams/.
    name: str
    render: Callable[[], str]

    @property
    def path(self) -> Path:
        return DIAGRAMS / self.name


def diagrams() -> list[Diagram]:
    """Every diagram the docs include, in a stable order."""
    found = [
        Diagram("architecture.svg", architecture_svg),
        Diagram("events.svg", events_svg),
    ]
    for definition in configured_definitions():
        name = f"saga-{definition.saga_type}"
        found.append(Diagram(f"{name}.svg", functools.partial(saga_svg, definition)))
        found.append(Diagram(f"{name}.mmd", functools.partial(saga_to_mermaid, definition)))
    for recording in sorted(RECORDINGS.glob("*.json")):
        found.append(
            Diagram(f"{recording.stem}.sequence.svg", functools.partial(_sequence_svg, recording))
        )
    return found


def _sequence_svg(recording: Path) -> str:
    """The calls and events of a recorded demo scene, as the demo report draws them."""
    return render_sequence_svg(load_recording(recording)) + "\n"


def write_all() -> list[Path]:
    """Write every diagram whose file differs; the paths written."""
    DIAGRAMS.mkdir(parents=True, exist_ok=True)
    written = []
    for diagram in diagrams():
        text = diagram.render()
        if not diagram.path.exists() or diagram.path.read_text(encoding="utf-8") != text:
            diagram.path.write_text(text, encoding="utf-8")
            written.append(diagram.path)
    return written


def stale() -> list[Diagram]:
    """The diagrams whose committed file is missing or differs from what the code draws now."""
    return [
        d
        for d in diagrams()
        if not d.path.exists() or d.path.read_text(encoding="utf-8") != d.render()
    ]
