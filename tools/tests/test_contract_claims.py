"""Every contract sentence that promises behaviour on absent or bad input is tied to a test."""

from __future__ import annotations

from tools.contract_claims import CLAIMS, find_claims, missing_tests


def test_every_claim_in_the_contracts_names_the_tests_that_prove_it() -> None:
    """A new "mints"/"falls back"/"otherwise" sentence fails until a test is named for it."""
    untested = sorted(set(find_claims()) - set(CLAIMS))
    assert untested == []


def test_every_listed_claim_is_still_in_the_contracts() -> None:
    gone = sorted(set(CLAIMS) - set(find_claims()))
    assert gone == []


def test_every_named_test_exists() -> None:
    assert missing_tests() == []


def test_the_request_id_claim_says_what_the_services_do() -> None:
    """The text promises no UUID for a refused value: the services answer it with a 422."""
    for document in ("contracts/users.yaml", "contracts/shop.yaml"):
        text = find_claims()[(document, "/components/parameters/RequestId/description")]
        assert "refused with 422" in text
        assert "or not printable ASCII" not in text
