"""Stub settings from the environment (MOCK_SERVICES_*); the token has no default on purpose."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORTS: dict[str, int] = {"users": 8001, "orders": 8002, "payments": 8003, "inventory": 8004}


class StubSettings(BaseSettings):
    """`MOCK_SERVICES_TOKEN` is required; host and ports default to the brief's values."""

    model_config = SettingsConfigDict(env_prefix="MOCK_SERVICES_", extra="ignore")

    token: SecretStr = Field(min_length=1)
    host: str = "127.0.0.1"
    users_port: int = Field(default=DEFAULT_PORTS["users"], ge=0, le=65535)
    orders_port: int = Field(default=DEFAULT_PORTS["orders"], ge=0, le=65535)
    payments_port: int = Field(default=DEFAULT_PORTS["payments"], ge=0, le=65535)
    inventory_port: int = Field(default=DEFAULT_PORTS["inventory"], ge=0, le=65535)

    def port_for(self, service: str) -> int:
        """The configured port of one service."""
        port: int = getattr(self, f"{service}_port")
        return port
