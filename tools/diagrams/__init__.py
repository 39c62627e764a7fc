"""The docs' diagrams, written as SVG (and Mermaid) into docs/diagrams/ by one command.

    python -m tools.diagrams           write every diagram (`make diagrams`)
    python -m tools.diagrams --check   list the committed ones that are stale; exit 1 if any

`catalogue.py` lists them; each is a function of the code (a saga's state diagram is walked
from `transition()`), so `tools/tests/test_diagrams.py` regenerates them in memory and fails
when a committed file differs.
"""
