"""The docs' references to the code and the tests, and whether each still resolves.

A reference is inline code in a page of docs/ that starts with one of the repository's top-level
files or folders: a path (`django_app/microservices/sagas/state.py`), a symbol in it
(`django_app/microservices/sagas/state.py::transition`, `...base.py::ServiceClient.request`) or
a pytest node id (`integration_tests/test_saga_crash.py::test_killed_during_any_action_...`,
`path::Class::test`, a `[param]` suffix allowed). In a Python file a symbol must be defined
(def, class or assignment, at the level the dots and `::` say); in any other file its text must
appear (a Makefile target must be a rule). Fenced code blocks are examples, not references.

    python -m tools.docrefs     # list the references that do not resolve; exit 1 if any
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# Top-level names that are never a reference target: built, installed or cached things.
NOT_SOURCE = {".venv", "node_modules", "build", "reports", ".git", ".pytest_cache"}
_FENCE = re.compile(r"^(\s*)(```|~~~)")
_INLINE = re.compile(r"`([^`\n]+)`")


@dataclass(frozen=True)
class Reference:
    page: str
    line: int
    text: str

    @property
    def path(self) -> str:
        return self.text.split("::", 1)[0].strip()

    @property
    def symbols(self) -> list[str]:
        """The `::`-separated parts after the path, each without a call or a [param] suffix."""
        parts = self.text.split("::")[1:]
        return [re.split(r"[\[(\s]", part.strip(), maxsplit=1)[0] for part in parts]

    @property
    def is_test(self) -> bool:
        name = self.symbols[-1].split(".")[-1] if self.symbols else ""
        return name.startswith("test_")

    def __str__(self) -> str:
        return f"docs/{self.page}:{self.line}: `{self.text}`"


def _top_level() -> set[str]:
    return {p.name for p in ROOT.iterdir()} - NOT_SOURCE


def references(docs: Path = DOCS) -> Iterator[Reference]:
    """Every reference in every page, in page and line order."""
    top = _top_level()
    for page in sorted(docs.rglob("*.md")):
        fence: str | None = None
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            marker = _FENCE.match(line)
            if marker:
                fence = None if fence == marker.group(2) else fence or marker.group(2)
                continue
            if fence:
                continue
            for match in _INLINE.finditer(line):
                text = match.group(1).strip()
                first = re.split(r"[/:\s]", text, maxsplit=1)[0]
                if first in top:
                    yield Reference(str(page.relative_to(docs)), number, text)


@cache
def _definitions(path: Path) -> dict[str, ast.AST]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return _names(tree.body)


def _names(body: list[ast.stmt]) -> dict[str, ast.AST]:
    found: dict[str, ast.AST] = {}
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = node
    return found


def problem(ref: Reference) -> str | None:
    """Why `ref` does not resolve, or None when it does."""
    if "*" in ref.path:  # a pattern such as bench/results/*.json: at least one file matches
        return None if any(ROOT.glob(ref.path)) else "no file matches this pattern"
    target = ROOT / ref.path
    if not target.exists():
        return "no such file or folder"
    if not ref.symbols:
        return None
    if target.is_dir():
        return "a folder has no symbols"
    if target.suffix == ".py":
        scope = _definitions(target)
        for part in (p for symbol in ref.symbols for p in symbol.split(".")):
            node = scope.get(part)
            if node is None:
                return f"{part!r} is not defined there"
            scope = _names(node.body) if isinstance(node, ast.ClassDef) else {}
        return None
    text = target.read_text(encoding="utf-8")
    for symbol in ref.symbols:
        if target.name == "Makefile":
            if not re.search(rf"^{re.escape(symbol)}:", text, re.MULTILINE):
                return f"no make target {symbol!r}"
        elif symbol not in text:
            return f"{symbol!r} does not appear there"
    return None


def broken(docs: Path = DOCS) -> list[tuple[Reference, str]]:
    return [(ref, why) for ref in references(docs) if (why := problem(ref)) is not None]


def main() -> int:
    failures = broken()
    for ref, why in failures:
        print(f"{ref}: {why}")
    print(f"{len(list(references()))} references, {len(failures)} broken")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
