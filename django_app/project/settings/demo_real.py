"""Settings of `python -m project.demo --stack real` and of the processes it starts (relay,
consumer, saga workers): base's PostgreSQL and RabbitMQ from the environment, this run's own
exchange, and file-based mail every one of those processes writes to, so the demo can read
what a consumer in another process sent."""

from __future__ import annotations

import os
from typing import Any, cast

from .base import *  # noqa: F403
from .base import INTERLINK

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["DEMO_MAIL_DIR"]
event_bus = cast(dict[str, Any], INTERLINK["EVENT_BUS"])
INTERLINK = {
    **INTERLINK,
    "EVENT_BUS": {
        **event_bus,
        "BACKEND": "rabbitmq",
        "RABBITMQ_EXCHANGE": os.environ["DEMO_RABBITMQ_EXCHANGE"],
    },
}
