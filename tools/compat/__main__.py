"""`python -m tools.compat --base REF`: exit 1 when the working tree's contracts break REF's.

Reads every contract at REF with `git show REF:path` and from the working tree, prints each
breaking change (document | operation or event | JSON pointer | rule | what) and writes JUnit
XML (--junit, default reports/contracts-compat.xml). `--rules` lists the rules.

--mode strict     (default) any breaking change fails: it could break some consumer
--mode consumers  each breaking change names the pact interactions it breaks (the pacts of
                  the working tree, or of --pacts-ref); one that breaks none passes
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tools.compat import consumers, report
from tools.compat.documents import compare_trees
from tools.compat.refs import WORKTREE, folder_at, label, tree_at, working_tree
from tools.compat.rules import RULES

ROOT = Path(__file__).resolve().parents[2]
PACTS = "contracts/pacts"

__all__ = ["ROOT", "main", "tree_at", "working_tree"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.compat",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--base", default="HEAD", help="git ref to compare with (default HEAD)")
    parser.add_argument("--junit", type=Path, default=Path("reports/contracts-compat.xml"))
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository")
    parser.add_argument("--rules", action="store_true", help="list the rules and exit")
    parser.add_argument("--mode", choices=("strict", "consumers"), default="strict")
    parser.add_argument(
        "--pacts-ref",
        default=WORKTREE,
        help=f"consumers mode: the git ref whose {PACTS}/ to read ({WORKTREE}: the working tree)",
    )
    args = parser.parse_args(argv)
    if args.rules:
        for rule, meaning in RULES.items():
            print(f"{rule:<26} {meaning}")
        return 0
    base = label(args.root, args.base)
    old = tree_at(args.root, args.base)
    results = compare_trees(old, working_tree(args.root))
    print(f"contracts-compat: the working tree's contracts against {base}")
    if args.mode == "strict":
        for line in report.lines(results):
            print(line)
        print(report.summary(results))
        report.junit(results, args.junit, base=base)
        print(f"JUnit XML: {args.junit}")
        return 1 if any(result.findings for result in results) else 0
    with tempfile.TemporaryDirectory(prefix="compat-pacts-") as scratch:
        pacts = folder_at(args.root, args.pacts_ref, PACTS, Path(scratch))
        charged = consumers.breaks(results, old, pacts, args.root / "contracts")
    print(f"consumers mode: the pacts of {label(args.root, args.pacts_ref)}")
    for line in report.consumer_lines(results, charged):
        print(line)
    print(report.consumer_summary(results, charged))
    report.junit(results, args.junit, base=base, charged=charged)
    print(f"JUnit XML: {args.junit}")
    return 1 if any(charged.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
