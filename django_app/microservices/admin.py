"""Admin registrations live with their area; importing them here lets Django's autodiscovery find them."""

from .events import admin as events_admin  # noqa: F401
from .sagas import admin as sagas_admin  # noqa: F401
