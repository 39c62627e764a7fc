"""The gate's consumers mode: each breaking change names the pact interactions it breaks.

Edits of copies of our contracts are compared with the originals (compare_trees) and the
committed pacts are checked against the edited copies (tools.compat.consumers.breaks); the
command is run on a real git repository holding a copy of the contracts.
"""

from __future__ import annotations

import copy
import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.compat import __main__ as gate
from tools.compat import consumers
from tools.compat.documents import compare_trees

CONTRACTS = gate.working_tree(gate.ROOT)
USER = "/components/schemas/User/properties/name"
INSTANCE = "/components/schemas/Problem/properties/instance"
Tree = dict[str, Any]


def _write(contracts: Path, tree: Tree) -> None:
    """The parsed documents of `tree` as files under `contracts`' parent, the others removed."""
    for name in set(CONTRACTS) - set(tree):
        (contracts.parent / name).unlink()
    for name, document in tree.items():
        text = json.dumps(document) if name.endswith(".json") else yaml.safe_dump(document)
        (contracts.parent / name).write_text(text, encoding="utf-8")


def charged_after(tmp_path: Path, edit: Callable[[Tree], None]) -> dict[tuple[str, str], list[str]]:
    """(subject, pointer) of each breaking change -> the interactions it breaks, as text."""
    edited = copy.deepcopy(CONTRACTS)
    edit(edited)
    contracts = tmp_path / "contracts"
    shutil.copytree(gate.ROOT / "contracts", contracts)
    _write(contracts, edited)
    results = compare_trees(CONTRACTS, edited)
    charged = consumers.breaks(results, CONTRACTS, contracts / "pacts", contracts)
    found: dict[tuple[str, str], list[str]] = {}
    for result in results:
        for finding in result.findings:
            interactions = found.setdefault((result.subject, finding.pointer), [])
            interactions.extend(str(b) for b in charged[finding])
    return found


def _drop(document: str, schema: str, field: str) -> Callable[[Tree], None]:
    def edit(tree: Tree) -> None:
        node = tree[document]["components"]["schemas"][schema]
        del node["properties"][field]
        node["required"] = [name for name in node.get("required", []) if name != field]

    return edit


def _both(*edits: Callable[[Tree], None]) -> Callable[[Tree], None]:
    def edit(tree: Tree) -> None:
        for one in edits:
            one(tree)

    return edit


def test_compat_consumers_a_removed_response_field_names_each_interaction_reading_it(
    tmp_path: Path,
) -> None:
    """User.name goes: each users operation's interaction that reads it is named, field and all."""
    found = charged_after(tmp_path, _drop("contracts/users.yaml", "User", "name"))
    assert {subject: [b.split(":")[0] for b in found[(subject, USER)]] for subject, _ in found} == {
        "createUser (POST /users)": ["shop-users.json | a request to create a user | name"],
        "searchUsers (GET /users/search)": ["shop-users.json | a search for users | items[0].name"],
        "getUser (GET /users/{user_id})": ["shop-users.json | a request for a user | name"],
        "updateUser (PUT /users/{user_id})": [
            "shop-users.json | a request to update a user | name"
        ],
    }
    assert found[("getUser (GET /users/{user_id})", USER)] == [
        "shop-users.json | a request for a user | name: users.getUser response 200: name: "
        "Additional properties are not allowed ('name' was unexpected)"
    ]


def test_compat_consumers_a_field_no_interaction_reads_breaks_none(tmp_path: Path) -> None:
    """Problem.instance goes: strict finds it in every operation, no pact interaction reads it."""
    found = charged_after(tmp_path, _drop("contracts/users.yaml", "Problem", "instance"))
    assert set(found) == {
        (subject, INSTANCE)
        for subject in (
            "createUser (POST /users)",
            "searchUsers (GET /users/search)",
            "getUser (GET /users/{user_id})",
            "updateUser (PUT /users/{user_id})",
        )
    }
    assert [interactions for interactions in found.values() if interactions] == []


def test_compat_consumers_each_change_of_one_operation_gets_only_its_own_interactions(
    tmp_path: Path,
) -> None:
    """Both fields go at once: getUser's name change breaks its interaction, instance still none."""
    edit = _both(
        _drop("contracts/users.yaml", "User", "name"),
        _drop("contracts/users.yaml", "Problem", "instance"),
    )
    found = charged_after(tmp_path, edit)
    subject = "getUser (GET /users/{user_id})"
    assert [b.split(":")[0] for b in found[(subject, USER)]] == [
        "shop-users.json | a request for a user | name"
    ]
    assert found[(subject, INSTANCE)] == []


def test_compat_consumers_a_field_made_optional_breaks_who_carries_it(tmp_path: Path) -> None:
    """The example still validates, but the consumer reads email: the change is charged to it."""

    def edit(tree: Tree) -> None:
        tree["contracts/users.yaml"]["components"]["schemas"]["User"]["required"].remove("email")

    found = charged_after(tmp_path, edit)
    pointer = "/components/schemas/User/properties/email"
    assert found[("getUser (GET /users/{user_id})", pointer)] == [
        "shop-users.json | a request for a user | email: carries email: field-made-optional "
        "lets the provider send what it may not handle"
    ]


def test_compat_consumers_event_changes_reach_the_message_interactions(tmp_path: Path) -> None:
    """order.created's payment_id goes, and its channel: the handlers' interaction is named."""

    def edit(tree: Tree) -> None:
        schema = tree["contracts/events/schemas/order.created.v1.json"]
        del schema["properties"]["data"]["properties"]["payment_id"]
        del tree["contracts/events/asyncapi.yaml"]["channels"]["order_created"]

    found = charged_after(tmp_path, edit)
    assert found[("order.created v1", "/properties/data/properties/payment_id")] == [
        "shop-handlers-order-saga.json | the order.created event | data.payment_id: "
        "order.created v1 does not declare it"
    ]
    (channel,) = found[("AsyncAPI channels and messages", "/channels/order_created")]
    assert channel.startswith(
        "shop-handlers-order-saga.json | the order.created event | metadata.routingKey: "
    )


def test_compat_consumers_a_contract_no_pact_uses_fails_as_in_strict_mode(
    tmp_path: Path,
) -> None:
    """shop.yaml (the Django API) and inventory.low have no pact: their consumers are unknown."""

    def edit(tree: Tree) -> None:
        del tree["contracts/shop.yaml"]["paths"]["/api/orders/{id}"]
        del tree["contracts/events/asyncapi.yaml"]["channels"]["inventory_low"]

    found = charged_after(tmp_path, edit)
    assert found == {
        ("getOrder (GET /api/orders/{id})", "/paths/~1api~1orders~1{id}/get"): [
            "(consumers unknown) | contracts/shop.yaml | -: "
            "no pact uses this contract, so the change fails as in strict mode"
        ],
        ("AsyncAPI channels and messages", "/channels/inventory_low"): [
            "(consumers unknown) | contracts/events/asyncapi.yaml | -: "
            "no pact uses this contract, so the change fails as in strict mode"
        ],
    }


def _edit_users(repository: Path, edit: Callable[[Tree], None]) -> None:
    tree = {"contracts/users.yaml": copy.deepcopy(CONTRACTS["contracts/users.yaml"])}
    edit(tree)
    (repository / "contracts" / "users.yaml").write_text(yaml.safe_dump(tree.popitem()[1]))


def _gate(repository: Path, *args: str) -> tuple[int, ET.Element]:
    junit = repository / "compat.xml"
    status = gate.main(["--base", "HEAD", "--root", str(repository), "--junit", str(junit), *args])
    return status, ET.parse(junit).getroot()  # noqa: S314 (the file the gate just wrote)


def test_compat_consumers_mode_fails_naming_the_interaction_in_stdout_and_junit(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A change a consumer relies on fails in consumers mode too, with its interactions."""
    _edit_users(repository, _drop("contracts/users.yaml", "User", "name"))
    status, junit = _gate(repository, "--mode", "consumers")
    out = capsys.readouterr().out
    assert status == 1
    assert (
        "BREAKING contracts/users.yaml | getUser (GET /users/{user_id}) | "
        f"{USER} | field-removed | "
    ) in out
    assert "    breaks shop-users.json | a request for a user | name: " in out
    assert "4 breaking change(s), 4 breaking a known consumer interaction" in out
    (failure,) = junit.findall(".//testcase[@name='getUser (GET /users/{user_id})']/failure")
    assert "\nbreaks shop-users.json | a request for a user | name: " in str(failure.text)
    assert junit.get("failures") == "4"


def test_compat_a_field_no_pact_reads_passes_in_consumers_mode_and_fails_in_strict(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Problem.instance goes: strict exits 1; consumers exits 0, saying it breaks no consumer."""
    _edit_users(repository, _drop("contracts/users.yaml", "Problem", "instance"))
    assert _gate(repository)[0] == 1
    capsys.readouterr()
    status, junit = _gate(repository, "--mode", "consumers")
    out = capsys.readouterr().out
    assert status == 0
    assert (
        "NO KNOWN CONSUMER contracts/users.yaml | getUser (GET /users/{user_id}) | "
        f"{INSTANCE} | field-removed | "
    ) in out
    assert "34 breaking change(s), 0 breaking a known consumer interaction, 34 breaking no" in out
    assert (junit.get("tests"), junit.get("failures"), junit.findall(".//failure")) == (
        "41",
        "0",
        [],
    )
    (output,) = junit.findall(".//testcase[@name='getUser (GET /users/{user_id})']/system-out")
    assert str(output.text).startswith(
        f"breaks no known consumer: field-removed at contracts/users.yaml#{INSTANCE}: "
    )


def test_compat_consumers_mode_reads_the_interactions_at_the_ref_given(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """getUser loses its 404: HEAD's pacts expect it, the working tree's do not (--pacts-ref)."""
    users = repository / "contracts" / "users.yaml"
    document = yaml.safe_load(users.read_text())
    del document["paths"]["/users/{user_id}"]["get"]["responses"]["404"]
    users.write_text(yaml.safe_dump(document))
    pact_path = repository / "contracts" / "pacts" / "shop-users.json"
    pact = json.loads(pact_path.read_text())
    pact["interactions"] = [
        i
        for i in pact["interactions"]
        if i["description"] != "a request for a user that does not exist"
    ]
    pact_path.write_text(json.dumps(pact))
    assert _gate(repository, "--mode", "consumers")[0] == 0
    status, junit = _gate(repository, "--mode", "consumers", "--pacts-ref", "HEAD")
    assert status == 1
    (failure,) = junit.findall(".//failure")
    assert "\nbreaks shop-users.json | a request for a user that does not exist | status: " in str(
        failure.text
    )
    assert "consumers mode: the pacts of HEAD (" in capsys.readouterr().out
