"""tools/mutation.py: each target names a module and tests that exist, and mutmut's settings
mutate that module alone against those tests."""

from __future__ import annotations

import configparser

import pytest

from tools.mutation import APP, PACKAGE, TARGETS, setup_cfg


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_each_target_names_a_module_and_tests_that_exist(name: str) -> None:
    """A module moved or a test file renamed breaks the target here, not after a long run."""
    target = TARGETS[name]
    assert any((src / target.module).is_file() for src in (PACKAGE.parent, APP))
    assert [test for test in target.tests if not (APP / test).exists()] == []


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_the_settings_mutate_the_module_alone_against_its_tests(name: str) -> None:
    """Paths under `src` (links to the package and django_app/), so mutmut names modules as
    Python does."""
    target = TARGETS[name]
    parser = configparser.ConfigParser()
    parser.read_string(setup_cfg(target))
    mutmut = parser["mutmut"]
    assert (mutmut["source_paths"], mutmut["only_mutate"]) == ("src", f"src/{target.module}")
    selection = mutmut["pytest_add_cli_args_test_selection"].split()
    assert selection == [f"src/{test}" for test in target.tests]
    assert mutmut["also_copy"].split() == ["contracts", "mock_services", "servers", "conftest.py"]
    assert mutmut["process_isolation"] == "forkserver"
