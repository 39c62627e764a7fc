"""System checks of the MICROSERVICES settings: each area keeps its own, registered on import here.

Ids are `microservices.E0xx` (errors) and `microservices.W0xx` (warnings), each with a hint.
"""

from .clients import checks as clients_checks  # noqa: F401
from .events import checks as events_checks  # noqa: F401
from .registry import checks as registry_checks  # noqa: F401
from .sagas import checks as sagas_checks  # noqa: F401
