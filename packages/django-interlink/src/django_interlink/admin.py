"""Admin registrations live with their area; imported here so Django's autodiscovery finds them."""

from .events import admin as events_admin  # noqa: F401
from .sagas import admin as sagas_admin  # noqa: F401
