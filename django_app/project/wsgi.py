"""WSGI entry point."""

import os

from django.core.wsgi import get_wsgi_application

from microservices.tracing import tracing_setup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.base")
# Before Django loads its middleware: on only when OTEL_TRACES_EXPORTER asks for it.
tracing_setup(service_name="django")
application = get_wsgi_application()
