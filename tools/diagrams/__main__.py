"""`python -m tools.diagrams [--check]`: write the docs' diagrams, or list the stale ones."""

from __future__ import annotations

import argparse
import os
import sys

import django

# The project's own settings: they name the saga definitions to draw. Nothing here reads the
# secret key, a database or a broker.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.base")
django.setup()

from tools.diagrams.catalogue import ROOT, stale, write_all  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.diagrams", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a diagram is stale"
    )
    args = parser.parse_args(argv)
    if args.check:
        old = stale()
        for diagram in old:
            print(f"stale: {diagram.path.relative_to(ROOT)} (run `make diagrams`)")
        return 1 if old else 0
    for path in write_all():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
