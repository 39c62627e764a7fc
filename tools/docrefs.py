"""The docs' references to the code and the tests, and whether each still resolves.

A reference is inline code in a page of docs/ that starts with one of the repository's top-level
files or folders: a path (`packages/django-interlink/src/django_interlink/sagas/state.py`), a symbol in it
(`packages/django-interlink/src/django_interlink/sagas/state.py::transition`, `...base.py::ServiceClient.request`) or
a pytest node id (`integration_tests/test_saga_crash.py::test_killed_during_any_action_...`,
`path::Class::test`, a `[param]` suffix allowed). In a Python file a symbol must be defined
(def, class or assignment, at the level the dots and `::` say); in any other file its text must
appear (a Makefile target must be a rule). Fenced code blocks are examples, not references.

A package docstring's layer map (the indented block after its paragraph starting "Layers") is
held to the import-linter layers contract of that package in pyproject.toml: the same layers,
highest first, with the same modules, so a reader of the package meets the layering that
`lint-imports` enforces.

    python -m tools.docrefs     # list what does not resolve or match; exit 1 if any
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
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


# A line of a layer map: module names first (`|` between siblings, `,` between layers on one
# line), then its description; deeper-indented lines continue a description.
_MAP_LINE = re.compile(r"^ {4}(\w+(?:\s*[|,]\s*\w+)*)")
Layers = list[set[str]]


def layer_map(docstring: str) -> Layers | None:
    """The layers a package docstring's map lists, highest first; None when it has no map."""
    lines = docstring.splitlines()
    i = next((n for n, line in enumerate(lines) if line.startswith("Layers")), len(lines))
    if i == len(lines):
        return None
    while i < len(lines) and lines[i].strip():  # the rest of the "Layers ..." paragraph
        i += 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    layers: Layers = []
    while i < len(lines) and lines[i].startswith(" "):
        match = _MAP_LINE.match(lines[i])
        if match:
            layers += [{name.strip() for name in layer.split("|")} for layer in match[1].split(",")]
        i += 1
    return layers


def contract_layers(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, Layers]:
    """Container package -> its layers contract's layers, highest first (`|` and `:` both
    separate the modules of one layer)."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    found: dict[str, Layers] = {}
    for contract in config["tool"]["importlinter"]["contracts"]:
        if contract["type"] != "layers":
            continue
        layers = [
            {name.strip(" ()") for name in re.split(r"[|:]", layer)} for layer in contract["layers"]
        ]
        for container in contract.get("containers", []):
            found[container] = layers
    return found


def map_problems(package: str, mapped: Layers, layers: Layers) -> list[str]:
    """How a package's docstring map differs from its contract's layers ([] when it does not)."""
    in_map, in_contract = set().union(*mapped), set().union(*layers)
    problems = [
        f"{package}: `{name}` is in the layers contract but not in the docstring's map"
        for name in sorted(in_contract - in_map)
    ] + [
        f"{package}: `{name}` is in the docstring's map but not in the layers contract"
        for name in sorted(in_map - in_contract)
    ]
    if not problems and mapped != layers:
        at = next(
            (n for n, (a, b) in enumerate(zip(mapped, layers, strict=False)) if a != b),
            min(len(mapped), len(layers)),
        )
        problems.append(
            f"{package}: the docstring's map differs from the contract at layer {at + 1}: "
            f"{' | '.join(sorted(mapped[at])) if at < len(mapped) else '(none)'} against "
            f"{' | '.join(sorted(layers[at])) if at < len(layers) else '(none)'}"
        )
    return problems


def _package_docstring(package: str) -> str:
    parts = package.split(".")
    for base in (ROOT / "django_app", ROOT):
        init = base.joinpath(*parts, "__init__.py")
        if init.exists():
            return ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    raise LookupError(f"no package {package} under django_app/ or the root")


def layer_maps() -> dict[str, Layers]:
    """Package -> the layers its docstring's map lists, for every contract container with one."""
    found = {}
    for package in contract_layers():
        mapped = layer_map(_package_docstring(package))
        if mapped is not None:
            found[package] = mapped
    return found


def mismatched_maps() -> list[str]:
    layers = contract_layers()
    return [
        problem
        for package, mapped in layer_maps().items()
        for problem in map_problems(package, mapped, layers[package])
    ]


def main() -> int:
    failures = broken()
    for ref, why in failures:
        print(f"{ref}: {why}")
    print(f"{len(list(references()))} references, {len(failures)} broken")
    maps = mismatched_maps()
    for line in maps:
        print(line)
    print(f"{len(layer_maps())} layer maps, {len(maps)} differences from their contracts")
    return 1 if failures or maps else 0


if __name__ == "__main__":
    sys.exit(main())
