"""Django settings of the chaos tests' `resume_sagas` worker processes.

project.settings.base (database, stub URLs and token from the environment) with what a test
needs to see faults clear within seconds: a short lease, short waits between an undo's tries,
short client timeouts (the lease still outlasts a call: check W060), the static registry's
instances read from a file the test rewrites (CHAOS_INSTANCES_FILE; with CHAOS_DISCOVERY=1 every
call goes through it), and mail that bounces for some buyers, so some sagas undo a charge.
"""

from __future__ import annotations

import os
from typing import Any, cast

from project.settings.base import *  # noqa: F403
from project.settings.base import INTERLINK

EMAIL_BACKEND = "tests.shop.failing_email.BouncingEmailBackend"

#: JSON {service: [base URL, ...]}; a service it does not name has its BASE_URL as instance
CHAOS_INSTANCES_FILE = os.environ.get("CHAOS_INSTANCES_FILE", "")

_discovery = os.environ.get("CHAOS_DISCOVERY", "0") == "1"
_services = cast(dict[str, dict[str, Any]], INTERLINK["SERVICES"])
INTERLINK = {
    **INTERLINK,
    "SERVICES": {
        name: {
            **conf,
            "TIMEOUT": 2.0,
            "CONNECT_TIMEOUT": 0.5,
            # one retry: 2 x 2.5 s + 0.5 s = 5.5 s at worst, under 9 s less a 3 s heartbeat
            "RETRY": {
                "TOTAL": 1,
                "BACKOFF_FACTOR": 0.01,
                "BACKOFF_MAX": 0.05,
                "RETRY_AFTER_MAX": 0.5,
            },
            "DISCOVERY": _discovery,
        }
        for name, conf in _services.items()
    },
    "REGISTRY": {
        **cast(dict[str, Any], INTERLINK["REGISTRY"]),
        "BACKEND": "integration_tests.chaos.registry.FileRegistry",
    },
    "SAGA": {
        **cast(dict[str, Any], INTERLINK["SAGA"]),
        # a run the database stopped is resumed once this lapses
        "LEASE_SECONDS": 9,
        "STEP_TIMEOUT": 4.0,
        "COMPENSATION_ATTEMPTS": 2,
        "COMPENSATION_BACKOFF": 0.05,
        "COMPENSATION_BACKOFF_MAX": 0.2,
        # a waiting undo is tried again after 0.5, 1, 2, 4, 4, ... seconds
        "COMPENSATION_WAIT": 0.5,
        "COMPENSATION_WAIT_MAX": 4.0,
        "COMPENSATION_HORIZON": 600.0,
    },
}
