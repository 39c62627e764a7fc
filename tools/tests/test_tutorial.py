"""docs/tutorial.md, Part 2, done for real: its code blocks applied to a copy of the project.

The tutorial includes its code from docs/tutorial/ (one copy). This test copies the project's
files into a temporary folder, does what the tutorial tells a learner to do, in its order, and
runs what it says to run: the given test fails first, then the new step and its patch make it
pass, `make diagrams` draws the new state, the handler's test passes and the layers still hold.
A snippet that no longer applies or no longer works fails this test, not a learner.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools import tutorial
from tools.tutorial import DESTINATIONS, PAGE, PATCHES, TUTORIAL

pytestmark = pytest.mark.slow


def _passed(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result.stdout


def test_every_file_of_the_tutorial_is_included_by_the_page_and_used_here() -> None:
    """One copy: each file under docs/tutorial/ is a snippet of the page and a step of this test."""
    files = sorted(p.name for p in TUTORIAL.iterdir() if p.is_file())
    assert files == sorted([*DESTINATIONS, *PATCHES])
    included = set(re.findall(r'--8<-- "docs/tutorial/([^":]+)', PAGE.read_text(encoding="utf-8")))
    assert included == set(files)


def test_part_two_applied_to_a_copy_of_the_project_passes_what_it_names(tmp_path: Path) -> None:
    """The given test fails, then passes with the step; the diagram shows the new state; the
    handler's test passes; lint-imports keeps every layer."""
    project = tutorial.project_copy(tmp_path / "project")
    shipping_test = DESTINATIONS["test_shipping.py"]

    # Step 7. The given test, before the step exists: both of its tests fail.
    tutorial.add(project, "test_shipping.py")
    before = tutorial.pytest(project, shipping_test)
    assert before.returncode == 1, before.stdout[-4000:]
    assert "2 failed" in before.stdout

    # Steps 8 and 9. The step and its compensation, then `make diagrams`.
    tutorial.add_shipping_step(project)
    _passed(tutorial.run(project, sys.executable, "-m", "tools.diagrams"))
    drawing = (project / "docs" / "diagrams" / "saga-order_processing.mmd").read_text()
    assert '["reserve_shipping"]' in drawing
    assert '["undo reserve_shipping"]' in drawing

    # Step 10. The given test passes.
    assert "2 passed" in _passed(tutorial.pytest(project, shipping_test))

    # Step 11. The inbox handler with its prepare step, registered in the settings.
    tutorial.add_packing_handler(project)
    tutorial.add(project, "test_packing.py")
    out = _passed(tutorial.pytest(project, DESTINATIONS["test_packing.py"], shipping_test))
    assert "3 passed" in out

    # The new modules took their place in the layers (the page says where).
    lint_imports = Path(sys.executable).with_name("lint-imports")
    assert "0 broken" in _passed(tutorial.run(project, str(lint_imports)))
