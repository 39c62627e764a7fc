"""The compatibility gate: each fixture edit of the real contracts is caught (or passes) as stated.

compat_fixtures.yaml holds JSON-Patch edits of copies of the working tree's contracts; each
breaking one must yield exactly its rules at its pointers, each compatible one nothing. Rules
no single edit of our contracts can trigger get a synthetic test here.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.compat import __main__ as gate
from tools.compat.documents import compare_trees
from tools.compat.rules import RULES

FIXTURES = yaml.safe_load((Path(__file__).with_name("compat_fixtures.yaml")).read_text())
CONTRACTS = gate.working_tree(gate.ROOT)


def _pointer_parts(pointer: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]


def apply(tree: dict[str, Any], document: str, edit: dict[str, Any]) -> None:
    """One JSON Patch operation (add, remove, replace, test) or add-/remove-document."""
    op = edit["op"]
    if op == "add-document":
        tree[document] = copy.deepcopy(edit["value"])
        return
    if op == "remove-document":
        del tree[document]
        return
    *parents, last = _pointer_parts(edit["path"])
    node = tree[document]
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if op == "add":
            node.insert(index, copy.deepcopy(edit["value"]))
        elif op == "test":
            assert node[index] == edit["value"], f"{document}#{edit['path']} is {node[index]!r}"
        elif op == "remove":
            del node[index]
        else:
            node[index] = copy.deepcopy(edit["value"])
        return
    if op == "test":
        assert node[last] == edit["value"], f"{document}#{edit['path']} is {node[last]!r}"
    elif op == "remove":
        del node[last]
    elif op == "replace":
        assert last in node, f"{document}#{edit['path']}: nothing to replace"
        node[last] = copy.deepcopy(edit["value"])
    else:
        node[last] = copy.deepcopy(edit["value"])


def findings_after(fixture: dict[str, Any]) -> set[tuple[str, str, str]]:
    edited = copy.deepcopy(CONTRACTS)
    for edit in fixture["edits"]:
        apply(edited, fixture["document"], edit)
    return {
        (finding.rule, finding.pointer, finding.document)
        for result in compare_trees(CONTRACTS, edited)
        for finding in result.findings
    }


@pytest.mark.parametrize("fixture", FIXTURES["breaking"], ids=lambda f: f["name"])
def test_compat_breaking_edit_fails_with_its_rule_and_pointer(fixture: dict[str, Any]) -> None:
    """A breaking edit yields exactly the expected (rule, pointer, document) findings."""
    expected = {
        (e["rule"], e["pointer"], e.get("document", fixture["document"]))
        for e in fixture["breaking"]
    }
    assert findings_after(fixture) == expected


@pytest.mark.parametrize("fixture", FIXTURES["compatible"], ids=lambda f: f["name"])
def test_compat_compatible_edit_passes(fixture: dict[str, Any]) -> None:
    """An additive or loosening (request) / tightening (response) edit yields no finding."""
    assert findings_after(fixture) == set()


def test_compat_fixtures_are_at_least_ten_each_and_cover_the_rules() -> None:
    """Ten or more edits of each kind; every rule is hit by a fixture or a synthetic test here."""
    assert len(FIXTURES["breaking"]) >= 10
    assert len(FIXTURES["compatible"]) >= 10
    hit = {e["rule"] for fixture in FIXTURES["breaking"] for e in fixture["breaking"]}
    assert set(RULES) - hit == set(SYNTHETIC_RULES)
    assert hit <= set(RULES)


def test_compat_unchanged_contracts_pass() -> None:
    """The working tree against itself: every operation and event type compared, none broken."""
    results = compare_trees(CONTRACTS, copy.deepcopy(CONTRACTS))
    assert [r.findings for r in results if r.findings] == []
    subjects = {r.subject for r in results}
    assert "createUser (POST /users)" in subjects
    assert "order.created v1" in subjects
    assert "placeOrder (POST /api/orders)" in subjects  # shop.yaml, the Django app's own API
    # operations (17 of the stubs, 3 of the Django API), event types (9, and the choreographed
    # checkout's 11), the AsyncAPI channels
    assert len(results) == 17 + 3 + 9 + 11 + 1


# Rules our contracts cannot show with one edit: every request schema is already closed.
SYNTHETIC_RULES = ("extra-fields-refused",)


def _openapi(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "paths": {
            "/things": {
                "post": {
                    "operationId": "createThing",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": schema}},
                    },
                    "responses": {"204": {"description": "done"}},
                }
            }
        },
    }


def test_compat_closing_an_open_request_schema_is_extra_fields_refused() -> None:
    """additionalProperties true -> false on a request body refuses what consumers may send."""
    open_schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    closed = {**open_schema, "additionalProperties": False}
    old = {"contracts/things.yaml": _openapi(open_schema)}
    new = {"contracts/things.yaml": _openapi(closed)}
    found = {(f.rule, f.pointer) for r in compare_trees(old, new) for f in r.findings}
    pointer = "/paths/~1things/post/requestBody/content/application~1json/schema"
    assert found == {("extra-fields-refused", f"{pointer}/additionalProperties")}
    assert compare_trees(new, old)[0].findings == []  # opening it again is fine


def test_compat_path_parameter_renamed_is_the_same_operation() -> None:
    """/users/{user_id} and /users/{id} are one operation: renaming the parameter breaks nobody."""
    old = copy.deepcopy(CONTRACTS)
    new = copy.deepcopy(CONTRACTS)
    paths = new["contracts/users.yaml"]["paths"]
    paths["/users/{id}"] = paths.pop("/users/{user_id}")
    assert [r.findings for r in compare_trees(old, new) if r.findings] == []


def test_compat_command_passes_against_head_and_writes_junit(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m tools.compat --base HEAD` on an unchanged tree: exit 0, JUnit with no failure."""
    junit = repository / "reports" / "contracts-compat.xml"
    assert gate.main(["--base", "HEAD", "--root", str(repository), "--junit", str(junit)]) == 0
    root = ET.parse(junit).getroot()  # noqa: S314 (the file this test just wrote)
    assert (root.get("tests"), root.get("failures")) == ("41", "0")
    assert "0 breaking change(s)" in capsys.readouterr().out


def test_compat_command_fails_on_a_breaking_working_tree_edit(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An edit in the working tree after BASE: exit 1, named on stdout and in the JUnit XML."""
    users = repository / "contracts" / "users.yaml"
    document = yaml.safe_load(users.read_text())
    del document["paths"]["/users/search"]
    users.write_text(yaml.safe_dump(document))
    junit = repository / "compat.xml"
    assert gate.main(["--base", "HEAD", "--root", str(repository), "--junit", str(junit)]) == 1
    out = capsys.readouterr().out
    assert (
        "BREAKING contracts/users.yaml | searchUsers (GET /users/search) | "
        "/paths/~1users~1search/get | operation-removed |"
    ) in out
    tree = ET.parse(junit)  # noqa: S314 (the file this test just wrote)
    failures = tree.getroot().findall(".//testcase/failure")
    assert [f.get("type") for f in failures] == ["operation-removed"]
    assert failures[0].get("message") == (
        "operation-removed at contracts/users.yaml#/paths/~1users~1search/get"
    )
