"""Models of the app, one module per concept; imported here so Django registers them."""

from .events import *  # noqa: F403
from .sagas import *  # noqa: F403
