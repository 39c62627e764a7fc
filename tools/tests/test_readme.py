"""README.md is a front page: short, the newcomer's commands, the tutorial on its first screen,
and code excerpts that are the real code, not a copy that drifts from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FIRST_SCREEN = 40  # lines
# A python block of the README, and the file named in the sentence before it.
_EXCERPT = re.compile(r"\(`(?P<path>[\w/.]+\.py)`\)\.\n\n```python\n(?P<code>.*?)```", re.DOTALL)


def test_the_readme_is_a_front_page() -> None:
    """At most ~180 lines; the commands CI and a newcomer rely on; the tutorial up front."""
    lines = README.splitlines()
    assert len(lines) <= 180
    for command in ("make demo", "make playground", "make test", "make docs"):
        assert command in README
    assert "docs/tutorial.md" in "\n".join(lines[:FIRST_SCREEN])


def test_the_readme_has_the_three_excerpts() -> None:
    """The saga definition, one handler, and outbox_enqueue inside transaction.atomic()."""
    excerpts = [m["code"] for m in _EXCERPT.finditer(README)]
    assert len(excerpts) == 3
    assert "SagaDefinition(" in excerpts[0]
    assert "@registry.handler(" in excerpts[1]
    assert "with transaction.atomic():" in excerpts[2]
    assert "outbox_enqueue(" in excerpts[2]


@pytest.mark.parametrize("match", list(_EXCERPT.finditer(README)), ids=lambda m: m["path"])
def test_each_code_excerpt_is_in_the_file_it_names(match: re.Match[str]) -> None:
    """Byte for byte: change the code and the README's excerpt must change with it."""
    source = (ROOT / match["path"]).read_text(encoding="utf-8")
    assert match["code"] in source
