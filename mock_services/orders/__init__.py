"""Orders stub: orders and their status life cycle."""

from mock_services.common.app import ServiceDefinition
from mock_services.orders.routes import router
from mock_services.orders.states import STATES
from mock_services.orders.store import OrdersStore

SERVICE = ServiceDefinition(
    name="orders", title="Orders service", router=router, store_factory=OrdersStore, states=STATES
)
