"""The profile document of `GET /v1/preferences/export` and `POST /v1/preferences/import`.

The HTTP face of ``preference_store.transfer``: the same bounds, stated in the schema, so a
document is refused with a 422 naming the field before the import looks at it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from api.schemas import ATTRIBUTE_TEXT, FiniteNumber, Int, Number, Request
from preference_store.models import (
    ATTRIBUTE_ID_PATTERN,
    MAX_VERSION,
    USER_ID_PATTERN,
    Category,
    Polarity,
)
from preference_store.profiles import PROFILE_NAME_PATTERN
from preference_store.styles import MAX_TOKENS_PER_IMPORT as MAX_STYLE_TOKENS_PER_IMPORT
from preference_store.transfer import (
    MAX_AESTHETIC_MODELS,
    MAX_EMBEDDING_SIZE,
    MAX_PROFILES_PER_IMPORT,
    SCHEMA,
    SCHEMA_VERSION,
)


class ImportedAttribute(Request):
    """One attribute of an export document, under the same rules as the routes'."""

    id: str = Field(pattern=ATTRIBUTE_ID_PATTERN, max_length=64)
    text: str = Field(**ATTRIBUTE_TEXT)
    category: Category = Category.OTHER
    polarity: Polarity
    strength: Number = Field(default=0.7, ge=0.0, le=1.0, allow_inf_nan=False)
    evidence: list[str] = Field(default_factory=list)
    source: str | None = None
    user_id: str | None = Field(default=None, description="Replaced by the caller's id.")
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ImportedImage(Request):
    image_id: str = Field(min_length=1, max_length=200)
    weight: Number = Field(default=1.0, gt=0.0, le=1.0, allow_inf_nan=False)
    path: str | None = Field(default=None, description="Ignored: the server keeps its own.")
    chosen: bool = Field(default=False, description="Picked in pairs, weighted by the taste model.")


class ProfileDocument(Request):
    """What `GET /v1/preferences/export` gives and `POST /v1/preferences/import` takes."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["tastemaker.profile"] = Field(alias="schema")
    schema_version: Literal[1]
    user_id: str = Field(pattern=USER_ID_PATTERN)
    version: Int = Field(
        default=0, ge=0, le=MAX_VERSION, description="Informative: an import gets the next one."
    )
    attributes: list[ImportedAttribute] = Field(default_factory=list)
    liked_images: list[ImportedImage] = Field(default_factory=list)
    disliked_images: list[ImportedImage] = Field(default_factory=list)
    aesthetic_embeddings: dict[
        str, Annotated[list[FiniteNumber], Field(min_length=1, max_length=MAX_EMBEDDING_SIZE)]
    ] = Field(
        default_factory=dict,
        max_length=MAX_AESTHETIC_MODELS,
        description="CLIP model -> embedding; kept only for models this server computed.",
    )
    style_tokens: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=MAX_STYLE_TOKENS_PER_IMPORT,
        description="Learned style tokens (record + base64 vectors), checked on import.",
    )

    taste: dict[str, Any] = Field(
        default_factory=dict,
        description="Choices between images and taste models (checked on import).",
    )
    profile: str | None = Field(
        default=None,
        pattern=PROFILE_NAME_PATTERN,
        description="In a named profile's export: its name (imported into that profile).",
    )
    profiles: dict[
        Annotated[str, StringConstraints(pattern=PROFILE_NAME_PATTERN)], dict[str, Any]
    ] = Field(
        default_factory=dict,
        max_length=MAX_PROFILES_PER_IMPORT,
        description="The person's named profiles (name -> profile document without the "
        "schema keys), in an export of the default profile; each is checked on import.",
    )

    @field_validator("schema_", mode="before")
    @classmethod
    def _is_an_export(cls, value: object) -> object:
        if value != SCHEMA:
            raise ValueError(f"not a tastemaker profile export (expected schema {SCHEMA!r})")
        return value

    @field_validator("schema_version", mode="before")
    @classmethod
    def _readable_version(cls, value: object) -> object:
        if value != SCHEMA_VERSION:
            raise ValueError(
                f"export schema version {value!r} is not supported; this tastemaker reads "
                f"version {SCHEMA_VERSION}"
            )
        return value


class ImportResult(BaseModel):
    version: int
    attribute_count: int
