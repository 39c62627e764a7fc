"""The docs site: built strictly, tied to the code and tests it names, one section per scene."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.docrefs import (
    DOCS,
    ROOT,
    Reference,
    broken,
    contract_layers,
    layer_map,
    layer_maps,
    map_problems,
    mismatched_maps,
    problem,
    references,
)

PATTERN_PAGES = [
    "clients.md",
    "contracts.md",
    "discovery.md",
    "events.md",
    "sagas.md",
    "orders-api.md",
]
MKDOCS = Path(sys.executable).with_name("mkdocs")


def _build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MKDOCS), "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(MKDOCS.parent)},
        check=False,
    )


def _copy_of_the_docs(tmp_path: Path) -> Path:
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(ROOT / "bench" / "results", tmp_path / "bench" / "results")  # the soak's plot
    return tmp_path / "mkdocs.yml"


def test_every_code_and_test_reference_in_the_docs_resolves() -> None:
    """Each `path`, `path::symbol` and test node id a page names exists as named."""
    assert [f"{ref}: {why}" for ref, why in broken()] == []


def test_the_pages_name_code_and_tests_by_the_hundred() -> None:
    """The check has something to check: the pages are full of references, tests among them."""
    found = list(references())
    assert len(found) >= 150
    assert sum(ref.is_test for ref in found) >= 60


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("packages/django-interlink/src/django_interlink/sagas/state.py::transition", None),
        (
            "packages/django-interlink/src/django_interlink/clients/base.py::ServiceClient.request",
            None,
        ),
        (
            "django_app/tests/sagas/test_engine.py::test_transition_moves_forward_then_completes",
            None,
        ),
        ("Makefile::docs", None),
        (
            "packages/django-interlink/src/django_interlink/sagas/state.py::transit",
            "'transit' is not defined there",
        ),
        (
            "packages/django-interlink/src/django_interlink/clients/base.py::ServiceClient.send",
            "'send' is not defined",
        ),
        ("django_app/tests/sagas/test_engine.py::test_gone", "'test_gone' is not defined"),
        ("packages/django-interlink/src/django_interlink/sagas/stat.py", "no such file or folder"),
        ("Makefile::nope", "no make target 'nope'"),
        ("bench/results/*.json", None),
        ("bench/results/*.csv", "no file matches this pattern"),
    ],
)
def test_a_reference_resolves_only_when_its_file_and_symbol_exist(
    text: str, why: str | None
) -> None:
    """Missing files, symbols, methods, tests and make targets are each reported."""
    found = problem(Reference("page.md", 1, text))
    assert (found if why is None else (found or "")[: len(why)]) == why


def test_references_are_read_outside_code_blocks_only(tmp_path: Path) -> None:
    """Inline code starting with a top-level entry is a reference; a fenced example is not."""
    (tmp_path / "page.md").write_text(
        "See `django_app/nothing.py::x` and `not/a/ref.py`.\n\n```python\n"
        "`django_app/also_nothing.py`\n```\n",
        encoding="utf-8",
    )
    assert [(r.line, r.text) for r in references(tmp_path)] == [(1, "django_app/nothing.py::x")]
    assert [why for _, why in broken(tmp_path)] == ["no such file or folder"]


def test_every_package_layer_map_lists_its_contracts_layers() -> None:
    """The maps in the packages' docstrings say what lint-imports enforces: same layers, same
    modules, same order; the app's clients, events and sagas each have one."""
    assert mismatched_maps() == []
    assert {"django_interlink.clients", "django_interlink.events", "django_interlink.sagas"} <= set(
        layer_maps()
    )


MAP_DOC = """What the package is.

Layers, highest first (`|`: independent):

    top | side              what the top does, described at length so that it wraps
                            onto a deeper-indented line
    middle, lower | other   two layers on one line
    base

Below them all: nothing.
"""


def test_a_layer_map_is_read_from_its_indented_block() -> None:
    """Names first, `|` between siblings, `,` between layers; descriptions are not modules."""
    assert layer_map(MAP_DOC) == [{"top", "side"}, {"middle"}, {"lower", "other"}, {"base"}]
    assert layer_map("A package with no map.\n\n    indented example\n") is None


@pytest.mark.parametrize(
    ("mapped", "named"),
    [
        (
            [{"top", "side"}, {"middle"}, {"lower"}, {"base"}],
            "`other` is in the layers contract but not in the docstring's map",
        ),
        (
            [{"top", "side"}, {"middle"}, {"lower", "other", "gone"}, {"base"}],
            "`gone` is in the docstring's map but not in the layers contract",
        ),
        (
            [{"top", "side"}, {"lower", "other"}, {"middle"}, {"base"}],
            "the docstring's map differs from the contract at layer 2: "
            "lower | other against middle",
        ),
    ],
)
def test_a_map_that_drifted_from_its_contract_is_named(mapped: list[set[str]], named: str) -> None:
    """A module missing from the map, one the contract lacks, or layers out of order."""
    contract = [{"top", "side"}, {"middle"}, {"lower", "other"}, {"base"}]
    assert [p.split(": ", 1)[1] for p in map_problems("pkg", mapped, contract)] == [named]
    assert map_problems("pkg", contract, contract) == []


def test_contract_layers_are_read_from_pyproject() -> None:
    """Each layers contract's container with its layers, highest first."""
    layers = contract_layers()
    assert layers["django_interlink.clients"][0] == {"factory", "checks", "testing"}
    assert layers["django_interlink.sagas"][-1] == {"definition", "outcomes"}


@pytest.mark.parametrize("page", PATTERN_PAGES)
def test_each_pattern_page_says_when_to_use_it_and_names_code_tests_and_scenes(page: str) -> None:
    """A learner gets: when (and when not), the code (file::symbol), the test, the demo scene."""
    text = (DOCS / page).read_text(encoding="utf-8")
    assert re.search(r"^## When to use .*, when not$", text, re.MULTILINE)
    assert "**Do not" in text
    refs = [r for r in references() if r.page == page]
    assert any(r.symbols and not r.is_test and r.path.endswith(".py") for r in refs)
    assert any(r.is_test for r in refs)
    assert "| demo scene |" in text


def test_failure_scenarios_has_one_section_per_demo_scene_in_order() -> None:
    """docs/failures.md follows project/demo/__main__.py: `## N. <the scene's title>`."""
    tree = ast.parse((ROOT / "django_app/project/demo/__main__.py").read_text(encoding="utf-8"))
    titles = [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "Scene"
        and isinstance(node.args[0], ast.Constant)
    ]
    text = (DOCS / "failures.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## (\d+)\. (.+)$", text, re.MULTILINE)
    assert sections == [(str(i), title) for i, title in enumerate(titles, 1)]
    assert len(titles) == 12


def test_site_builds_strictly(tmp_path: Path) -> None:
    """`make docs`' build: no warning (broken link, missing page or snippet) in strict mode."""
    result = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "sagas.html").exists()


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        ("See [the missing page](missing.md).", "missing.md"),
        ('<div>\n--8<-- "diagrams/missing.svg"\n</div>', "missing.svg"),
        ("See [a gone heading](sagas.md#no-such-heading).", "no-such-heading"),
    ],
)
def test_a_broken_link_or_snippet_fails_the_strict_build(
    tmp_path: Path, edit: str, named: str
) -> None:
    """What --strict is for: a page linking nowhere (or including nothing) stops the build."""
    config = _copy_of_the_docs(tmp_path)
    page = tmp_path / "docs" / "index.md"
    page.write_text(page.read_text(encoding="utf-8") + f"\n{edit}\n", encoding="utf-8")
    result = _build(config, tmp_path / "site")
    assert result.returncode != 0
    assert named in result.stderr + result.stdout


def test_the_site_asks_for_no_web_font_and_no_mermaid_script() -> None:
    """Offline by configuration: theme.font is off and no page has a mermaid fence."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert re.search(r"^  font: false$", config, re.MULTILINE)
    assert all("```mermaid" not in p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md"))
