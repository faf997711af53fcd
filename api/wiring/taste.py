"""Settings in, the taste service out (design.md, "Taste from choices")."""

from __future__ import annotations

import logging

from agent.gallery import Gallery
from api.taste import TasteService
from api.wiring.generation import open_clip
from api.wiring.services import Components
from generation.clip import ClipBundle
from generation.errors import GenerationError
from generation.taste_features import TasteFeatures
from preference_store.choices import ChoiceStore
from preference_store.errors import PreferenceError

log = logging.getLogger("tastemaker.taste")


def build_taste(
    components: Components, gallery: Gallery, clip: ClipBundle | None = None
) -> TasteService:
    """The service over ``gallery``; CLIP is the one given (the generator's), else the
    configured one loaded at the first use, else none: the text half alone, said in the log."""

    def load() -> ClipBundle | None:
        if clip is not None:
            return clip
        try:
            return open_clip(components.settings)
        except (GenerationError, PreferenceError, OSError) as error:
            log.warning("taste model without CLIP image features: %s", error)
            return None

    features = TasteFeatures(components.embedder, load_clip=load)
    return TasteService(gallery, features, ChoiceStore(components.engine), components.store.current)
