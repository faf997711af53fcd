"""Settings in, the taste service out (design.md, "Taste from choices")."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PIL import Image

from agent.gallery import Gallery
from agent.pick_why import WhyRule
from api.taste import TasteService
from api.wiring.agent import build_gallery, gallery_image_keeper
from api.wiring.generation import open_clip
from api.wiring.services import Components
from generation.clip import ClipBundle
from generation.errors import GenerationError
from generation.render import Ranker
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
    return TasteService(
        gallery,
        features,
        ChoiceStore(components.engine),
        components.store.current,
        keep_image=gallery_image_keeper(components.blobs),
        why=WhyRule(components.settings.why_surprise, components.settings.why_every),
    )


def taste_ranker(taste: TasteService) -> Ranker:
    """Best-of-N's ranker (``generation.render.Ranker``): each image's taste match with the
    prompt as its description, as a reaction to it is recorded; None while the person's model
    has no signal (no choices, attributes or liked images: every weight 0, every match 0.5)."""

    def rank(user_id: str, images: Sequence[Image.Image], prompt: str) -> list[float] | None:
        if not taste.has_signal(user_id):
            return None
        return taste.score(user_id, images, [prompt] * len(images))

    return rank


def open_ranker(components: Components, clip: ClipBundle | None) -> Ranker:
    """The ranker over the configured gallery's feature space, with the generator's CLIP (else
    the configured one, as ``build_taste``)."""
    return taste_ranker(build_taste(components, build_gallery(components.settings), clip=clip))
