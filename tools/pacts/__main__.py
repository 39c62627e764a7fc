"""`python -m tools.pacts write|check|can-i-deploy`: write the shop's pacts, check them both ways.

write         drive the real clients on Pact's mock server and the events through the
              consumer's receive path; write contracts/pacts/ (or --out)
check         every interaction of every pact against the provider's OpenAPI/AsyncAPI
              document; exit 1 naming pact | interaction | field for each expectation the
              contract does not promise
can-i-deploy  the same check for the pacts at each --consumer-ref against the contracts at
              each --provider-ref (git refs; WORKTREE is the working tree): a verdict table,
              --markdown (also appended to $GITHUB_STEP_SUMMARY when set) and --junit; exit 1
              when any cell fails
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import django

# The test settings: the clients validate against the contracts, nothing reads a database.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.test")
django.setup()

from tools.compat.refs import WORKTREE  # noqa: E402
from tools.pacts import deploy  # noqa: E402
from tools.pacts.catalogue import PACTS_DIR, ROOT, write_all  # noqa: E402
from tools.pacts.check import check_all  # noqa: E402


def can_i_deploy(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="can-i-deploy-") as scratch:
        cells = deploy.matrix(args.root, args.consumer_ref, args.provider_ref, Path(scratch))
    for line in deploy.text(cells):
        print(line)
    failed = sum(1 for cell in cells if cell.findings)
    print(f"can-i-deploy: {len(cells)} cells, {failed} failed: {'FAILED' if failed else 'ok'}")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    for path in filter(None, [args.markdown, Path(summary) if summary else None]):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w" if path == args.markdown else "a", encoding="utf-8") as out:
            out.write(deploy.markdown(cells))
    if args.junit:
        deploy.junit(cells, args.junit)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.pacts", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    write = sub.add_parser("write", help="write the pacts from the consumers' code")
    write.add_argument("--out", type=Path, default=PACTS_DIR)
    check = sub.add_parser("check", help="check every pact against the provider's contract")
    check.add_argument("--pacts", type=Path, default=PACTS_DIR)
    check.add_argument("--contracts", type=Path, default=ROOT / "contracts")
    matrix = sub.add_parser(
        "can-i-deploy", help="pacts at consumer refs x contracts at provider refs"
    )
    for side in ("consumer", "provider"):
        matrix.add_argument(
            f"--{side}-ref",
            action="append",
            required=True,
            help=f"a git ref (repeat for several; {WORKTREE}: the working tree)",
        )
    matrix.add_argument("--markdown", type=Path, help="write the table as Markdown here")
    matrix.add_argument("--junit", type=Path, help="write JUnit XML here (a testcase a cell)")
    matrix.add_argument("--root", type=Path, default=ROOT, help="the repository")
    args = parser.parse_args(argv)
    if args.command == "can-i-deploy":
        return can_i_deploy(args)
    if args.command == "write":
        for path in write_all(args.out):
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        return 0
    pacts, interactions, findings = check_all(args.pacts, args.contracts)
    for finding in findings:
        print(finding)
    verdict = "FAILED" if findings else "ok"
    print(f"{pacts} pacts, {interactions} interactions, {len(findings)} finding(s): {verdict}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
