"""App config: connects checks and signals, nothing else (no network at start-up)."""

from django.apps import AppConfig


class InterlinkConfig(AppConfig):
    name = "django_interlink"
    # Short and distinct: the prefix of its tables, admin URLs and system check ids.
    label = "interlink"
    verbose_name = "Interlink: services, events and sagas"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
