#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.base")
    from django.core.management import execute_from_command_line

    from django_interlink.tracing import tracing_setup

    # Before Django loads its middleware: on only when OTEL_TRACES_EXPORTER asks for it.
    tracing_setup(service_name="django")

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
