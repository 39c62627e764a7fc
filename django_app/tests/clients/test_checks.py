"""System checks of the clients' settings: each misconfiguration yields its id, with a hint."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import override_settings

from django_interlink.clients.checks import (
    check_clients_settings,
    check_contracts_parse,
    check_validation_cost,
)


def _ids(messages):
    return sorted(m.id for m in messages)


@pytest.fixture
def contracts(tmp_path: Path) -> Path:
    (tmp_path / "users.yaml").write_text("openapi: 3.1.0\n")
    return tmp_path


def _run(conf, *, debug=False):
    with override_settings(INTERLINK=conf, DEBUG=debug):
        return check_clients_settings()


def _good(contracts: Path, **service):
    return {
        "CONTRACTS_DIR": str(contracts),
        "SERVICES": {
            "users": {"BASE_URL": "http://users:8001", "API_KEY": "k", **service},
        },
    }


def test_valid_settings_pass(contracts):
    """A complete service entry with its contract on disk raises nothing."""
    assert _run(_good(contracts)) == []


def test_every_message_has_a_hint(contracts):
    """Each reported problem tells the reader how to fix it."""
    conf = _good(contracts, BASE_URL="ftp://x", TIMEOUT=0, API_KEY="")
    conf["CONTRACT_VALIDATION"] = "always"
    messages = _run(conf)
    assert messages != []
    assert all(m.hint for m in messages)


@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        ("not a dict", ["interlink.E001"]),
        ({"SERVICES": {}, "SERVCES": {}}, ["interlink.E002"]),
        ({"SERVICES": ["users"]}, ["interlink.E003"]),
        ({"SERVICES": {"users": "http://users"}}, ["interlink.E004"]),
    ],
)
def test_malformed_settings_structure_is_reported(conf, expected):
    """A INTERLINK that is not the expected shape is named precisely."""
    assert _ids(_run(conf)) == expected


def test_unknown_service_key_is_reported(contracts):
    """A typo in a service entry (BASEURL) is an error, not silently ignored."""
    assert _ids(_run(_good(contracts, BASEURL="http://x"))) == ["interlink.E005"]


def test_missing_base_url_is_reported(contracts):
    """A service without BASE_URL (and without discovery) cannot be called."""
    conf = _good(contracts)
    del conf["SERVICES"]["users"]["BASE_URL"]
    assert _ids(_run(conf)) == ["interlink.E006"]


def test_missing_base_url_is_fine_with_discovery(contracts):
    """With DISCOVERY the registry supplies the address, so BASE_URL may be empty."""
    conf = _good(contracts, DISCOVERY=True)
    del conf["SERVICES"]["users"]["BASE_URL"]
    assert _run(conf) == []


@pytest.mark.parametrize("url", ["users:8001", "ftp://users", "http://", "http://u/?x=1"])
def test_bad_base_url_is_reported(contracts, url):
    """BASE_URL must be an absolute http(s) URL without query."""
    assert _ids(_run(_good(contracts, BASE_URL=url))) == ["interlink.E007"]


def test_empty_api_key_warns_outside_debug(contracts):
    """Outside DEBUG an empty API_KEY is a warning (every endpoint answers 401)."""
    assert _ids(_run(_good(contracts, API_KEY=""))) == ["interlink.W001"]


def test_empty_api_key_is_quiet_under_debug(contracts):
    """Under DEBUG (local services without auth) an empty API_KEY is accepted."""
    assert _run(_good(contracts, API_KEY=""), debug=True) == []


def test_non_string_api_key_is_an_error(contracts):
    """An API_KEY that is not a string (e.g. None from a missing env var) is an error."""
    assert _ids(_run(_good(contracts, API_KEY=None))) == ["interlink.E008"]


@pytest.mark.parametrize(
    ("key", "value"), [("TIMEOUT", 0), ("CONNECT_TIMEOUT", -1), ("TIMEOUT", "5")]
)
def test_non_positive_timeouts_are_reported(contracts, key, value):
    """Timeouts must be positive numbers."""
    assert _ids(_run(_good(contracts, **{key: value}))) == ["interlink.E009"]


def test_missing_contract_file_is_reported(contracts):
    """A configured service whose contract is missing cannot be validated."""
    conf = _good(contracts)
    conf["SERVICES"]["payments"] = {"BASE_URL": "http://payments", "API_KEY": "k"}
    messages = _run(conf)
    assert _ids(messages) == ["interlink.E010"]
    assert "payments.yaml" in messages[0].msg


def test_missing_contract_is_fine_when_validation_is_off(contracts):
    """With CONTRACT_VALIDATION 'off' no contract file is needed."""
    conf = _good(contracts)
    conf["SERVICES"]["payments"] = {"BASE_URL": "http://payments", "API_KEY": "k"}
    conf["CONTRACT_VALIDATION"] = "off"
    assert _run(conf) == []


def test_missing_contracts_dir_is_reported_once(tmp_path):
    """A CONTRACTS_DIR that does not exist is one error, not one per service."""
    conf = _good(tmp_path / "nope")
    conf["SERVICES"]["orders"] = {"BASE_URL": "http://orders", "API_KEY": "k"}
    assert _ids(_run(conf)) == ["interlink.E016"]


def test_bad_retry_settings_are_reported(contracts):
    """Unknown retry keys, negative counts and non-status forcelists are errors."""
    retry = {"TOTAL": -1, "BACKOFF_FACTOR": -0.1, "STATUS_FORCELIST": [503, "x"], "JITTER": 1}
    assert _ids(_run(_good(contracts, RETRY=retry))) == [
        "interlink.E011",
        "interlink.E012",
        "interlink.E012",
        "interlink.E012",
    ]


def test_bad_validation_mode_and_rate_are_reported(contracts):
    """CONTRACT_VALIDATION must be on/sampled/off and the sample rate within [0, 1]."""
    conf = _good(contracts)
    conf["CONTRACT_VALIDATION"] = "yes"
    conf["CONTRACT_SAMPLE_RATE"] = 1.5
    assert _ids(_run(conf)) == ["interlink.E013", "interlink.E014"]


def test_deploy_check_reports_an_unparsable_contract(contracts):
    """`check --deploy` parses each contract: an invalid OpenAPI document is E017."""
    with override_settings(INTERLINK=_good(contracts)):
        messages = check_contracts_parse()
    assert _ids(messages) == ["interlink.E017"]


@pytest.mark.parametrize(
    ("mode", "debug", "expected"),
    [("on", False, ["interlink.W002"]), ("sampled", False, []), ("on", True, [])],
)
def test_deploy_check_warns_about_validating_every_call(contracts, mode, debug, expected):
    """`check --deploy` suggests 'sampled' when every call is validated outside DEBUG."""
    conf = {**_good(contracts), "CONTRACT_VALIDATION": mode}
    with override_settings(INTERLINK=conf, DEBUG=debug):
        assert _ids(check_validation_cost()) == expected
