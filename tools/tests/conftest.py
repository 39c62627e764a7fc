"""Fixtures of the tools' tests, and the edits the contract checkers' tests make to a copy of
the contracts."""

from __future__ import annotations

import copy
import functools
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.compat.refs import working_tree

ROOT = Path(__file__).resolve().parents[2]

Tree = dict[str, Any]  # contract path -> parsed document
Edit = Callable[[Tree], None]


@functools.cache
def _contracts() -> Tree:
    return working_tree(ROOT)


@pytest.fixture
def contracts() -> Tree:
    """The working tree's contracts, parsed: a copy for one test to edit."""
    return copy.deepcopy(_contracts())


def node(tree: Tree, document: str, pointer: str) -> dict[str, Any]:
    """The object at a JSON pointer (no escapes) of one document."""
    found: Any = tree[document]
    for part in pointer.split("/")[1:]:
        found = found[part]
    assert isinstance(found, dict)
    return found


def set_keys(document: str, pointer: str, **values: Any) -> Edit:
    """An edit setting keywords of the object at `pointer`."""
    return lambda tree: node(tree, document, pointer).update(values)


def replace(document: str, pointer: str, value: dict[str, Any]) -> Edit:
    """An edit putting `value` in place of the object at `pointer`."""

    def edit(tree: Tree) -> None:
        parent, _, name = pointer.rpartition("/")
        node(tree, document, parent)[name] = value

    return edit


def delete(document: str, pointer: str, key: str) -> Edit:
    """An edit removing one keyword of the object at `pointer`."""

    def edit(tree: Tree) -> None:
        del node(tree, document, pointer)[key]

    return edit


@pytest.fixture
def contracts_copy(tmp_path: Path) -> Callable[..., Path]:
    """A copy of the contracts folder under tmp_path, with `set_keys`' edit made to one file
    (none without arguments): the root to give a command as --root."""

    def make(document: str = "", pointer: str = "", **values: Any) -> Path:
        if not (tmp_path / "contracts").exists():
            shutil.copytree(ROOT / "contracts", tmp_path / "contracts")
        if document:
            path = tmp_path / document
            tree = {document: yaml.safe_load(path.read_text())}
            set_keys(document, pointer, **values)(tree)
            path.write_text(yaml.safe_dump(tree[document]))
        return tmp_path

    return make


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture
def repository(contracts_copy: Callable[..., Path]) -> Path:
    """A git repository holding a copy of our contracts (the pacts among them), committed."""
    root = contracts_copy()
    _git(root, "init", "-q")
    _git(root, "add", "contracts")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
    return root
