"""docs/tutorial.md, Part 2, done for real: its code blocks applied to a copy of the project.

The tutorial includes its code from docs/tutorial/ (one copy). This test copies the project's
files into a temporary folder, does what the tutorial tells a learner to do, in its order, and
runs what it says to run: the given test fails first, then the new step and its patch make it
pass, `make diagrams` draws the new state, the handler's test passes and the layers still hold.
A snippet that no longer applies or no longer works fails this test, not a learner.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "tutorial"
PAGE = ROOT / "docs" / "tutorial.md"
# Where each file of docs/tutorial/ goes in the project; the patches are applied, not copied.
DESTINATIONS = {
    "shipping.py": "django_app/shop/shipping.py",
    "test_shipping.py": "django_app/tests/shop/test_shipping.py",
    "packing.py": "django_app/shop/packing.py",
    "test_packing.py": "django_app/tests/shop/test_packing.py",
}
PATCHES = ["add-shipping-step.patch", "add-packing-handler.patch"]

pytestmark = pytest.mark.slow


def _project_copy(target: Path) -> Path:
    """The files git knows (tracked, or new and not ignored), copied: no venv, no build."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{project / 'django_app'}{os.pathsep}{project}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return subprocess.run(
        args, cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def _pytest(project: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    return _run(project, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths)


def _add(project: Path, name: str) -> None:
    destination = project / DESTINATIONS[name]
    assert not destination.exists(), f"{DESTINATIONS[name]} exists before the tutorial adds it"
    shutil.copy(TUTORIAL / name, destination)


def _apply(project: Path, patch: str) -> None:
    result = _run(project, "git", "apply", "--verbose", str(TUTORIAL / patch))
    assert result.returncode == 0, f"{patch} does not apply:\n{result.stderr}"


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
    project = _project_copy(tmp_path / "project")

    # 1. The given test, before the step exists: it fails, for the reason the page gives.
    _add(project, "test_shipping.py")
    before = _pytest(project, DESTINATIONS["test_shipping.py"])
    assert before.returncode == 1, before.stdout[-4000:]
    assert "2 failed" in before.stdout

    # 2. The step and its compensation, then `make diagrams` (python -m tools.diagrams).
    _add(project, "shipping.py")
    _apply(project, "add-shipping-step.patch")
    _passed(_run(project, sys.executable, "-m", "tools.diagrams"))
    drawing = (project / "docs" / "diagrams" / "saga-order_processing.mmd").read_text()
    assert '["reserve_shipping"]' in drawing
    assert '["undo reserve_shipping"]' in drawing
    assert "2 passed" in _passed(_pytest(project, DESTINATIONS["test_shipping.py"]))

    # 3. The inbox handler with its prepare step, registered in the settings.
    _add(project, "packing.py")
    _add(project, "test_packing.py")
    _apply(project, "add-packing-handler.patch")
    out = _passed(
        _pytest(project, DESTINATIONS["test_packing.py"], DESTINATIONS["test_shipping.py"])
    )
    assert "3 passed" in out

    # The new modules took their place in the layers (the page says where).
    lint_imports = Path(sys.executable).with_name("lint-imports")
    assert "0 broken" in _passed(_run(project, str(lint_imports)))
