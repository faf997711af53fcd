"""The OpenAPI schema states every bound the server enforces, including those set by settings.

Fixed bounds live on the schemas themselves (from the domain model's constants); bounds that
come from settings (largest side, most steps, ...) are written into the generated schema here,
from the same ``Settings`` object the routes check against, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.settings import Settings

# schema name -> property -> (JSON Schema keyword, setting that bounds it)
SETTING_BOUNDS: dict[str, dict[str, tuple[str, str]]] = {
    "GenerationCreate": {
        "prompt": ("maxLength", "max_prompt_chars"),
        "negative_prompt": ("maxLength", "max_prompt_chars"),
        "steps": ("maximum", "max_steps"),
        "width": ("maximum", "max_side"),
        "height": ("maximum", "max_side"),
        "num_images": ("maximum", "max_images"),
    },
    "OnboardingMessageIn": {"text": ("maxLength", "max_comment_chars")},
    "ProfileDocument": {
        "attributes": ("maxItems", "max_attributes"),
        "liked_images": ("maxItems", "max_profile_images"),
        "disliked_images": ("maxItems", "max_profile_images"),
    },
    "ImportedAttribute": {"evidence": ("maxItems", "max_evidence_per_attribute")},
}


def _constrain(prop: dict[str, Any], keyword: str, value: int) -> None:
    """Set ``keyword`` on the property, or on each non-null branch of an optional one."""
    branches = [b for b in prop.get("anyOf", []) if b.get("type") != "null"]
    for branch in branches or [prop]:
        branch[keyword] = value


def add_setting_bounds(app: FastAPI, settings: Settings) -> None:
    """Make ``app.openapi()`` carry the bounds ``settings`` sets."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.get("components", {}).get("schemas", {})
        for name, properties in SETTING_BOUNDS.items():
            for prop_name, (keyword, setting) in properties.items():
                prop = components.get(name, {}).get("properties", {}).get(prop_name)
                if prop is not None:
                    _constrain(prop, keyword, int(getattr(settings, setting)))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
