"""Response schemas of the HTTP API, kept apart from the domain model."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from preference_store.models import Category, Polarity, Profile


class AttributeOut(BaseModel):
    id: str
    text: str
    category: Category
    polarity: Polarity
    strength: float
    evidence: list[str]
    source: str | None
    created_at: datetime
    updated_at: datetime


class SearchHit(BaseModel):
    attribute: AttributeOut
    score: float


class CategoryGroup(BaseModel):
    category: Category
    likes: list[AttributeOut]
    dislikes: list[AttributeOut]


class PreferencesOut(BaseModel):
    user_id: str
    version: int
    groups: list[CategoryGroup]

    @classmethod
    def from_profile(cls, profile: Profile) -> PreferencesOut:
        groups = []
        for category, by_polarity in profile.grouped().items():
            groups.append(
                CategoryGroup(
                    category=category,
                    likes=[
                        AttributeOut.model_validate(a.model_dump())
                        for a in by_polarity.get(Polarity.LIKE, [])
                    ],
                    dislikes=[
                        AttributeOut.model_validate(a.model_dump())
                        for a in by_polarity.get(Polarity.DISLIKE, [])
                    ],
                )
            )
        return cls(user_id=profile.user_id, version=profile.version, groups=groups)
