"""`python -m tools.compat --base REF`: exit 1 when the working tree's contracts break REF's.

Reads every contract at REF with `git show REF:path` and from the working tree, prints each
breaking change (document | operation or event | JSON pointer | rule | what) and writes JUnit
XML (--junit, default reports/contracts-compat.xml). `--rules` lists the rules.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tools.compat import report
from tools.compat.documents import compare_trees, is_contract
from tools.compat.rules import RULES

ROOT = Path(__file__).resolve().parents[2]


def _git(root: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {completed.stderr.strip()}")
    return completed.stdout


def tree_at(root: Path, ref: str) -> dict[str, Any]:
    """Every contract at a git ref, parsed (JSON is read as the YAML it also is)."""
    names = _git(root, "ls-tree", "-r", "--name-only", ref, "--", "contracts").splitlines()
    return {
        name: yaml.safe_load(_git(root, "show", f"{ref}:{name}"))
        for name in names
        if is_contract(name)
    }


def working_tree(root: Path) -> dict[str, Any]:
    """Every contract in the working tree, parsed."""
    found = {}
    for path in sorted((root / "contracts").rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_file() and is_contract(name):
            found[name] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.compat", description=__doc__)
    parser.add_argument("--base", default="HEAD", help="git ref to compare with (default HEAD)")
    parser.add_argument("--junit", type=Path, default=Path("reports/contracts-compat.xml"))
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository")
    parser.add_argument("--rules", action="store_true", help="list the rules and exit")
    args = parser.parse_args(argv)
    if args.rules:
        for rule, meaning in RULES.items():
            print(f"{rule:<26} {meaning}")
        return 0
    commit = _git(args.root, "rev-parse", "--short", f"{args.base}^{{commit}}").strip()
    results = compare_trees(tree_at(args.root, args.base), working_tree(args.root))
    print(f"contracts-compat: the working tree's contracts against {args.base} ({commit})")
    for line in report.lines(results):
        print(line)
    print(report.summary(results))
    report.junit(results, args.junit, base=f"{args.base} ({commit})")
    print(f"JUnit XML: {args.junit}")
    return 1 if any(result.findings for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
