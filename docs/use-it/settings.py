# Appended to the settings.py that `django-admin startproject mysite .` wrote.
import os

# Production-ish: `manage.py check --deploy` passes with these.
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["localhost"]
SECURE_SSL_REDIRECT = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True

INSTALLED_APPS += ["django_interlink", "greetings"]  # noqa: F821 (startproject's list)

INTERLINK = {
    # CONTRACTS_DIR is left out: BASE_DIR / "contracts", where contracts/events/asyncapi.yaml
    # describes every event this project publishes or handles.
    # The service clients validate a sample of their calls against the contracts in
    # production ("on" in tests and staging: every call).
    "CONTRACT_VALIDATION": "sampled",
    "EVENT_BUS": {
        # "rabbitmq" (RABBITMQ_URL) or "redis" (REDIS_URL) in production, with their extra.
        "BACKEND": os.environ.get("EVENT_BUS_BACKEND", "memory"),
        "RABBITMQ_URL": os.environ.get("RABBITMQ_URL", ""),
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        # The memory bus keeps events inside one process: with DEBUG off it is refused unless
        # allowed, as here, where the relay and the consumer share one process.
        "ALLOW_MEMORY_BUS": True,
        # The name on every event this project publishes, and its consumer group.
        "PRODUCER": "mysite",
        "CONSUMER_GROUP": "mysite",
        # Modules exposing `registry = HandlerRegistry()`: what consume_events runs.
        "HANDLER_MODULES": ["greetings.handlers"],
    },
    "SAGA": {
        # The sagas a `resume_sagas` worker may run, by dotted path.
        "DEFINITIONS": ["greetings.sagas.GREETING"],
    },
}
