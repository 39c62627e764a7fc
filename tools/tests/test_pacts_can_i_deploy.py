"""can-i-deploy: the pacts at consumer refs against the contracts at provider refs, in a real
git repository: the verdict table, its Markdown and its JUnit XML."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from tools.pacts.__main__ import main
from tools.pacts.catalogue import ROOT

PACTS = sorted(path.name for path in (ROOT / "contracts" / "pacts").glob("*.json"))
# two consumer refs x two provider refs: a cell per pact and pair of refs
CELLS = 2 * 2 * len(PACTS)


def _git(root: Path, *args: str) -> str:
    completed = subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
    return completed.stdout.decode().strip()


@pytest.fixture
def two_refs(repository: Path) -> tuple[Path, str, str]:
    """Our contracts and pacts committed (HEAD~1), then users.yaml without User.name (HEAD)."""
    deployed = _git(repository, "rev-parse", "--short", "HEAD")
    users = repository / "contracts" / "users.yaml"
    document = yaml.safe_load(users.read_text())
    user = document["components"]["schemas"]["User"]
    del user["properties"]["name"]
    user["required"].remove("name")
    users.write_text(yaml.safe_dump(document))
    _git(repository, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "-")
    return repository, deployed, _git(repository, "rev-parse", "--short", "HEAD")


def _run(root: Path, *refs: str) -> int:
    return main(
        [
            "can-i-deploy",
            "--root",
            str(root),
            *refs,
            "--markdown",
            str(root / "reports" / "can-i-deploy.md"),
            "--junit",
            str(root / "reports" / "can-i-deploy.xml"),
        ]
    )


def test_can_i_deploy_fails_the_cells_where_a_provider_ref_drops_what_a_pact_reads(
    two_refs: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Pacts at HEAD~1 and in the working tree x contracts at HEAD~1 and HEAD: shop-users fails
    against HEAD in both rows, every other cell is ok; table, Markdown and JUnit say so."""
    root, deployed, head = two_refs
    refs = ["--consumer-ref", "HEAD~1", "--consumer-ref", "WORKTREE"]
    refs += ["--provider-ref", "HEAD~1", "--provider-ref", "HEAD"]
    assert _run(root, *refs) == 1
    out = capsys.readouterr().out.splitlines()
    old, new = f"HEAD~1 ({deployed})", f"HEAD ({head})"
    table = [re.split(r"\s{2,}", line) for line in out[: 1 + 2 * len(PACTS)]]
    assert table[0] == ["pacts at", "pact", f"contracts at {old}", f"contracts at {new}"]
    verdicts = {(consumer, pact): cells for consumer, pact, *cells in table[1:]}
    assert set(verdicts) == {(ref, pact) for ref in (old, "WORKTREE") for pact in PACTS}
    assert {key: cells for key, cells in verdicts.items() if cells != ["ok", "ok"]} == {
        (old, "shop-users.json"): ["ok", "4 finding(s)"],
        ("WORKTREE", "shop-users.json"): ["ok", "4 finding(s)"],
    }
    assert out[-1] == f"can-i-deploy: {CELLS} cells, 2 failed: FAILED"
    assert (
        f"FAILED pacts at WORKTREE against contracts at {new}: shop-users.json | "
        "a request for a user | name: users.getUser response 200: name: "
        "Additional properties are not allowed ('name' was unexpected)"
    ) in out

    markdown = (root / "reports" / "can-i-deploy.md").read_text()
    assert f"| pacts at | pact | contracts at {old} | contracts at {new} |" in markdown
    assert f"| {old} | shop-users.json | ok | 4 finding(s) |" in markdown
    assert "| WORKTREE | shop-orders.json | ok | ok |" in markdown
    assert f"{CELLS} cells, 2 failed." in markdown
    assert f"- `shop-users.json` at WORKTREE against contracts at {new}:" in markdown
    assert "  - shop-users.json \\| a search for users \\| items[0].name: " in markdown

    junit = ET.parse(root / "reports" / "can-i-deploy.xml").getroot()  # noqa: S314 (just written)
    assert (junit.get("tests"), junit.get("failures")) == (str(CELLS), "2")
    assert [suite.get("name") for suite in junit] == [f"pacts at {old}", "pacts at WORKTREE"]
    (failure,) = junit.findall(
        f".//testcase[@name='shop-users.json against contracts at {new}']"
        "[@classname='pacts at WORKTREE']/failure"
    )
    assert failure.get("message") == "4 interaction expectation(s) not promised"
    assert (
        str(failure.text)
        .splitlines()[0]
        .startswith("shop-users.json | a request for a user | name: ")
    )


def test_can_i_deploy_passes_when_every_cell_is_ok_and_appends_the_job_summary(
    two_refs: tuple[Path, str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pacts at both refs against the contracts that still have User.name: exit 0; the table
    is appended to $GITHUB_STEP_SUMMARY after what an earlier step wrote there."""
    root = two_refs[0]
    summary = root / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    refs = ["--consumer-ref", "HEAD~1", "--consumer-ref", "HEAD", "--provider-ref", "HEAD~1"]
    assert _run(root, *refs) == 0
    assert (
        capsys.readouterr().out.splitlines()[-1]
        == f"can-i-deploy: {CELLS // 2} cells, 0 failed: ok"
    )
    text = summary.read_text()
    assert text.startswith("earlier step\n## can-i-deploy: pacts against contracts\n")
    assert f"{CELLS // 2} cells, 0 failed." in text
    assert "### Findings" not in text
