"""Settings of the example Django service: embedded defaults (SQLite, memory bus, static registry).

Everything that points outside the process is read from the environment, so the same settings
serve `make demo` on a bare machine and a deployment with real brokers.
"""

from __future__ import annotations

import os
from pathlib import Path

from project.database_url import database_from_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
REPO_DIR = BASE_DIR.parent

# No default secret outside tests: `make demo` exports one, deployments must set their own.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = [
    h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_interlink",
    "shop",
]

MIDDLEWARE = [
    "django_interlink.middleware.RequestIDMiddleware",
    # /api/: every request and response checked against contracts/shop.yaml (INTERLINK["API"])
    "django_interlink.api.middleware.ContractValidationMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# DATABASE_URL may name a primary and its standbys (postgres://u:p@db1:5432,db2:5432/shop
# ?target_session_attrs=read-write): libpq connects to whichever is the primary now.
DATABASES: dict[str, dict[str, object]] = {
    "default": (
        database_from_url(os.environ["DATABASE_URL"])
        if os.environ.get("DATABASE_URL")
        else {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
        }
    )
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "interlink",
    }
}

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "orders@example.com")


def _service(name: str, port: int) -> dict[str, object]:
    env = name.upper()
    return {
        "BASE_URL": os.environ.get(f"{env}_SERVICE_URL", f"http://127.0.0.1:{port}"),
        "API_KEY": os.environ.get(f"{env}_SERVICE_API_KEY", os.environ.get("SERVICES_API_KEY", "")),
    }


# The one place this project's integration layer is configured; defaults live in
# django_interlink/conf.py and are merged key by key.
INTERLINK: dict[str, object] = {
    "SERVICES": {
        "users": _service("users", 8001),
        "orders": _service("orders", 8002),
        "payments": _service("payments", 8003),
        "inventory": _service("inventory", 8004),
    },
    "CONTRACT_VALIDATION": os.environ.get("CONTRACT_VALIDATION", "on"),
    "EVENT_BUS": {
        "BACKEND": os.environ.get("EVENT_BUS_BACKEND", "memory"),
        "ALLOW_MEMORY_BUS": os.environ.get("EVENT_BUS_ALLOW_MEMORY_BUS", "0") == "1",
        "RABBITMQ_URL": os.environ.get("RABBITMQ_URL", ""),
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        # "host:port,host:port": the bus finds the primary of REDIS_SENTINEL_SERVICE through them
        "REDIS_SENTINELS": os.environ.get("REDIS_SENTINELS", ""),
        "REDIS_SENTINEL_SERVICE": os.environ.get("REDIS_SENTINEL_SERVICE", ""),
        "HANDLER_MODULES": ["shop.handlers", "shop.choreography.participants"],
    },
    "REGISTRY": {
        "BACKEND": os.environ.get("REGISTRY_BACKEND", "static"),
        "CONSUL_HTTP_ADDR": os.environ.get("CONSUL_HTTP_ADDR", ""),
        "CONSUL_HTTP_TOKEN": os.environ.get("CONSUL_HTTP_TOKEN", ""),
    },
    "SAGA": {"DEFINITIONS": ["shop.order_processing.ORDER_PROCESSING"]},
    # the orders API (shop/api/) answers under its own contract
    # POST /api/orders per token and window of seconds (0 = no limit)
    "API": {
        "CONTRACT": "shop.yaml",
        "RATE_LIMIT": int(os.environ.get("API_RATE_LIMIT", "60")),
        "RATE_LIMIT_WINDOW": int(os.environ.get("API_RATE_LIMIT_WINDOW", "60")),
    },
    # who may read /health/ready/'s details besides staff users ("" = nobody else)
    "HEALTH": {"TOKEN": os.environ.get("HEALTH_TOKEN", "")},
}

# The example shop's own settings (defaults in shop/conf.py).
SHOP: dict[str, object] = {}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "django_interlink.request_id.RequestIDLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "loggers": {
        "django_interlink": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
        "shop": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    },
}
