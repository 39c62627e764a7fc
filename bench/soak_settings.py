"""Django settings of every process bench/soak.py starts: the project's, with the soak's
`INTERLINK` override merged in, section by section, from the JSON in SOAK_MICROSERVICES.

The override is the one place the soak names settings (shortened retention, the run's own
exchange or stream prefix), so a renamed setting is changed there, in bench/soak.py.
"""

import json
import os
from typing import Any

from project.settings.base import *  # noqa: F403
from project.settings.base import INTERLINK

_override: dict[str, Any] = json.loads(os.environ.get("SOAK_MICROSERVICES", "{}"))
INTERLINK = {
    **INTERLINK,
    **{
        section: (
            {**base, **value}
            if isinstance(value, dict) and isinstance(base := INTERLINK.get(section), dict)
            else value
        )
        for section, value in _override.items()
    },
}

# A long-running process must not keep every message it sends (locmem would, in memory).
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
