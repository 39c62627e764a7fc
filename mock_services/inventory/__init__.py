"""Inventory stub: products (seeded) and stock reservations."""

from mock_services.common.app import ServiceDefinition
from mock_services.inventory.routes import router
from mock_services.inventory.states import STATES
from mock_services.inventory.store import InventoryStore

SERVICE = ServiceDefinition(
    name="inventory",
    title="Inventory service",
    router=router,
    store_factory=InventoryStore,
    states=STATES,
)
