"""Users service payloads (contracts/users.yaml)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StrictBool, StringConstraints

EMAIL_PATTERN = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"
Email = Annotated[str, StringConstraints(strict=True, pattern=EMAIL_PATTERN, max_length=254)]
Name = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=200)]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    name: Name
    is_active: StrictBool = True


class UserUpdate(BaseModel):
    """Full replacement of the editable fields."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    name: Name
    is_active: StrictBool


class User(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    email: str
    name: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


class UserList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[User]
    count: int
