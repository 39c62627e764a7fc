"""Placeholder: stub-server fixtures (mock_services area)."""
