"""Payments stub: card payments (captured at once) and refunds."""

from mock_services.common.app import ServiceDefinition
from mock_services.payments.routes import router
from mock_services.payments.states import STATES
from mock_services.payments.store import PaymentsStore

SERVICE = ServiceDefinition(
    name="payments",
    title="Payments service",
    router=router,
    store_factory=PaymentsStore,
    states=STATES,
)
