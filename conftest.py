"""Root pytest configuration: fixtures shared by every suite come from these plugins."""

pytest_plugins = [
    "mock_services.pytest_plugin",
    "microservices.pytest_plugin",
    "shop.pytest_plugin",
]
