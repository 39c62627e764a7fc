"""Mutation testing of the modules whose rules the tests must pin: mutmut, each module against
its own unit tests, and what survived.

    python -m tools.mutation                  # every target (make mutation)
    python -m tools.mutation outcomes         # one of them
    python -m tools.mutation --list           # the targets, their modules and tests

mutmut (3.8) names a module by its file path, stripping only a leading `src/`, and runs the
tests on a copy of the tree under `mutants/`. So each target runs in a scratch folder of its
own, build/mutation/<target>/ (gitignored), holding a `src` link to django_app/, links to what
the tests read (the contracts, the stubs, the root conftest.py, pyproject.toml) and a setup.cfg
naming the module and its tests. Every run starts afresh: mutmut never refreshes its copy of a
test file that changed. `process_isolation = forkserver` because a test keeps state in a class
(tests/clients/test_responses.py). Survivors are printed with their diff; `mutmut show NAME`
and `mutmut browse` work in the target's folder afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "django_app"
WORK = ROOT / "build" / "mutation"
# What the copied tests read besides django_app/: linked into the scratch folder, then copied
# into mutants/ by mutmut (also_copy).
SHARED = ("contracts", "mock_services", "conftest.py")


@dataclass(frozen=True)
class Target:
    module: str  # a path under django_app/
    tests: tuple[str, ...]  # paths under django_app/


TARGETS = {
    "outcomes": Target("django_interlink/sagas/outcomes.py", ("tests/sagas/test_outcomes.py",)),
    "transport": Target(
        "django_interlink/clients/transport.py",
        ("tests/clients", "tests/registry/test_discovery_client.py"),
    ),
}


def setup_cfg(target: Target) -> str:
    """mutmut's settings for one target (it reads setup.cfg when pyproject.toml has none)."""
    lines = [
        "[mutmut]",
        "source_paths = src",
        f"only_mutate = src/{target.module}",
        "also_copy =",
        *(f"    {name}" for name in SHARED),
        "pytest_add_cli_args_test_selection =",
        *(f"    src/{test}" for test in target.tests),
        "process_isolation = forkserver",
    ]
    return "\n".join(lines) + "\n"


def prepare(name: str, target: Target) -> Path:
    """The target's scratch folder, fresh: links to the tree and its setup.cfg."""
    folder = WORK / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "src").symlink_to(APP, target_is_directory=True)
    for shared in (*SHARED, "pyproject.toml"):
        (folder / shared).symlink_to(ROOT / shared)
    (folder / "setup.cfg").write_text(setup_cfg(target))
    return folder


def mutmut(folder: Path, *args: str, capture: bool = False) -> str:
    """Run mutmut in `folder` with the interpreter's environment, minus a PYTHONPATH that
    would let the tests import the unmutated tree."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    command = [str(Path(sys.executable).parent / "mutmut"), *args]
    done = subprocess.run(
        command, cwd=folder, env=env, check=True, text=True, capture_output=capture
    )
    return done.stdout if capture else ""


def results(folder: Path) -> dict[str, str]:
    """Each mutant's name and status ("killed", "survived", "timeout", "no tests", ...)."""
    statuses = {}
    for line in mutmut(folder, "results", "--all", "true", capture=True).splitlines():
        mutant, sep, status = line.strip().rpartition(": ")
        if sep:
            statuses[mutant] = status
    return statuses


def diff(folder: Path, mutant: str) -> list[str]:
    """The changed lines of one mutant."""
    shown = mutmut(folder, "show", mutant, capture=True).splitlines()
    return [line for line in shown if line[:2] in ("- ", "+ ")]


def run(name: str, target: Target) -> Counter[str]:
    folder = prepare(name, target)
    started = time.monotonic()
    mutmut(folder, "run")
    elapsed = time.monotonic() - started
    statuses = results(folder)
    counts = Counter(statuses.values())
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    print(f"\n{name}: {len(statuses)} mutants of {target.module}: {summary} ({elapsed:.0f} s)")
    for mutant, status in statuses.items():
        if status != "killed":
            print(f"  {status}: {mutant}")
            for line in diff(folder, mutant):
                print(f"      {line}")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "targets", nargs="*", metavar="TARGET", help=f"{', '.join(TARGETS)} (default: all)"
    )
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.targets) - set(TARGETS))
    if unknown:
        parser.error(f"unknown target(s): {', '.join(unknown)}")
    if args.list:
        for name, target in TARGETS.items():
            print(f"{name}: django_app/{target.module} against {', '.join(target.tests)}")
        return 0
    for name in args.targets or TARGETS:
        run(name, TARGETS[name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
