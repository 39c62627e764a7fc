"""App config: connects checks and signals, nothing else (no network at start-up)."""

from django.apps import AppConfig


class MicroservicesConfig(AppConfig):
    name = "microservices"
    verbose_name = "Microservices integration"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
