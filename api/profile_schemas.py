"""Bodies of the named-profile routes (``/v1/profiles``, docs/design.md, "Named profiles")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import Request
from preference_store.profiles import PROFILE_NAME_PATTERN

NAME_RULE = "1-32 letters, digits, '_' or '-', starting with a letter or digit."
ProfileName = Annotated[
    str, Field(pattern=PROFILE_NAME_PATTERN, min_length=1, max_length=32, description=NAME_RULE)
]


class ProfileCreate(Request):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "zines"}]})

    name: ProfileName


class ProfileRename(Request):
    name: ProfileName


class ProfileOut(BaseModel):
    name: str
    version: int = Field(description="The profile's current version (0: nothing stored yet).")
    attribute_count: int
    style_tokens: int
    created_at: datetime | None = Field(description="None for the default profile.")
