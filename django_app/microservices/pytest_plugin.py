"""Placeholder: Django-side fixtures (clients area)."""
