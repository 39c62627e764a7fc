"""The contracts at a git ref or in the working tree: parsed (the gate), or as files (the pacts).

`WORKTREE` names the working tree wherever a ref is expected, so a pull request can check its
own, uncommitted or not yet merged, pacts and contracts.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import yaml

from tools.compat.documents import is_contract

WORKTREE = "WORKTREE"


def git(root: Path, *args: str) -> str:
    """git's output; a failure is a SystemExit naming the command and git's message."""
    return _run(root, *args).decode()


def _run(root: Path, *args: str) -> bytes:
    completed = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {completed.stderr.decode().strip()}")
    return completed.stdout


def tree_at(root: Path, ref: str) -> dict[str, Any]:
    """Every contract at a git ref, parsed (JSON is read as the YAML it also is)."""
    names = git(root, "ls-tree", "-r", "--name-only", ref, "--", "contracts").splitlines()
    return {
        name: yaml.safe_load(git(root, "show", f"{ref}:{name}"))
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


def label(root: Path, ref: str) -> str:
    """How a report names a ref: `WORKTREE`, or the ref with its short commit."""
    if ref == WORKTREE:
        return WORKTREE
    commit = git(root, "rev-parse", "--short", f"{ref}^{{commit}}").strip()
    return f"{ref} ({commit})"


def folder_at(root: Path, ref: str, folder: str, scratch: Path) -> Path:
    """`folder` (e.g. contracts/pacts) as it is at `ref`, as files: the working tree's own folder
    for WORKTREE, else a copy written under `scratch` (empty when the ref does not have it)."""
    if ref == WORKTREE:
        return root / folder
    commit = git(root, "rev-parse", f"{ref}^{{commit}}").strip()
    target = scratch / f"{commit}-{folder.replace('/', '-')}"
    if not (target / folder).is_dir():
        listed = git(root, "ls-tree", "-d", "--name-only", commit, "--", folder).strip()
        if listed:
            archive = _run(root, "archive", "--format=tar", commit, "--", folder)
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(target, filter="data")
        else:
            (target / folder).mkdir(parents=True)
    return target / folder
