"""Root pytest configuration: fixtures shared by every suite come from these plugins."""

import pytest

pytest_plugins = [
    "mock_services.pytest_plugin",
    "django_interlink.pytest_plugin",
    "shop.pytest_plugin",
]

# The saga suites' ledger checks and the chaos runs' checks live in helper modules: rewrite
# their asserts like a test's, so a failed check shows the values it compared.
pytest.register_assert_rewrite("tests.shop.support", "integration_tests.chaos")
