"""docs/tutorial.md's Part 2 done to a copy of the project, as a learner would do it.

The tutorial's code lives once, in docs/tutorial/: modules and tests the learner copies into
the project, and patches the learner applies. `tools/tests/test_tutorial.py` runs the steps and
the tests the page names; `browser_tests/test_tutorial.py` starts the playground of the changed
copy and checks what step 12 says you will see.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorial"
PAGE = ROOT / "docs" / "tutorial.md"
# Where each file of docs/tutorial/ goes in the project; the patches are applied, not copied.
DESTINATIONS = {
    "shipping.py": "django_app/shop/shipping.py",
    "test_shipping.py": "django_app/tests/shop/test_shipping.py",
    "packing.py": "django_app/shop/packing.py",
    "test_packing.py": "django_app/tests/shop/test_packing.py",
}
PATCHES = ("add-shipping-step.patch", "add-packing-handler.patch")


class StepFailed(AssertionError):
    """A step of the tutorial did not do what the page says (a patch that no longer applies)."""


def project_copy(target: Path) -> Path:
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


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A command in the copy, with the copy's code first on the path (as the Makefile does)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            str(project / part) for part in ("packages/django-interlink/src", "django_app", ".")
        ),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return subprocess.run(
        args, cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def pytest(project: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    return run(project, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths)


def add(project: Path, name: str) -> None:
    """Copy one file of docs/tutorial/ to where the page says it goes."""
    destination = project / DESTINATIONS[name]
    if destination.exists():
        raise StepFailed(f"{DESTINATIONS[name]} exists before the tutorial adds it")
    shutil.copy(TUTORIAL / name, destination)


def apply(project: Path, patch: str) -> None:
    """`git apply docs/tutorial/<patch>`, as the page tells the learner."""
    result = run(project, "git", "apply", "--verbose", str(TUTORIAL / patch))
    if result.returncode != 0:
        raise StepFailed(f"{patch} does not apply:\n{result.stderr}")


def add_shipping_step(project: Path) -> None:
    """Step 8: the module with the step and its compensation, and the patch that uses it."""
    add(project, "shipping.py")
    apply(project, "add-shipping-step.patch")


def add_packing_handler(project: Path) -> None:
    """Step 11: the handler's module and the patch that registers it (its test is added apart)."""
    add(project, "packing.py")
    apply(project, "add-packing-handler.patch")
