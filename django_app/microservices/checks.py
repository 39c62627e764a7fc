"""System checks for the MICROSERVICES settings (ids microservices.E0xx / W0xx)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Tags, register

# Each area adds its checks to this module as a function decorated with @register.


@register(Tags.compatibility)
def check_settings_present(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return []
