"""Users stub: create, read, replace and search users."""

from mock_services.common.app import ServiceDefinition
from mock_services.users.routes import router
from mock_services.users.states import STATES
from mock_services.users.store import UsersStore

SERVICE = ServiceDefinition(
    name="users", title="Users service", router=router, store_factory=UsersStore, states=STATES
)
