"""Models of the app, one module per concept; imported here so Django registers them."""

from .api import *  # noqa: F403
from .events import *  # noqa: F403
from .sagas import *  # noqa: F403
