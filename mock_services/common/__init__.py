"""What every stub shares: app factory, auth, errors, idempotency, faults, settings."""

from mock_services.common.app import SERVICE_NAMES, ServiceDefinition, create_app
from mock_services.common.errors import FieldError, Problem, ProblemError
from mock_services.common.settings import StubSettings

__all__ = [
    "SERVICE_NAMES",
    "FieldError",
    "Problem",
    "ProblemError",
    "ServiceDefinition",
    "StubSettings",
    "create_app",
]
