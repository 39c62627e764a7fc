"""WSGI entry point."""

import os

from django.core.wsgi import get_wsgi_application

from django_interlink.metrics.otlp import start_otlp_export
from django_interlink.tracing import tracing_setup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.base")
# Before Django loads its middleware: on only when OTEL_TRACES_EXPORTER asks for it.
tracing_setup(service_name="django")
application = get_wsgi_application()
# Pushes the counters through OTLP when OTEL_METRICS_EXPORTER says otlp (Prometheus reads /metrics)
otlp_metrics = start_otlp_export()
