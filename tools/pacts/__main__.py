"""`python -m tools.pacts write|check`: write the shop's pacts, or check them bi-directionally.

write  drive the real clients on Pact's mock server and the events through the consumer's
       receive path; write contracts/pacts/ (or --out)
check  every interaction of every pact against the provider's OpenAPI/AsyncAPI document;
       exit 1 naming pact | interaction | field for each expectation the contract does not
       promise
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import django

# The test settings: the clients validate against the contracts, nothing reads a database.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.test")
django.setup()

from tools.pacts.catalogue import PACTS_DIR, ROOT, write_all  # noqa: E402
from tools.pacts.check import check_all  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.pacts", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    write = sub.add_parser("write", help="write the pacts from the consumers' code")
    write.add_argument("--out", type=Path, default=PACTS_DIR)
    check = sub.add_parser("check", help="check every pact against the provider's contract")
    check.add_argument("--pacts", type=Path, default=PACTS_DIR)
    check.add_argument("--contracts", type=Path, default=ROOT / "contracts")
    args = parser.parse_args(argv)
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
