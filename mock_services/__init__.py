"""FastAPI stubs of the users, orders, payments and inventory services (see README.md).

Run them with `python -m mock_services`, in tests with `mock_services.testing.StubServer` or
the `stubs` / `reset_stubs` fixtures of `mock_services.pytest_plugin`.
"""
