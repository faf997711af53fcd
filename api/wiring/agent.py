"""Builders for the onboarding side: extractors, gallery, follow-ups and the agent itself.

Settings are read here (the composition root) and nowhere below; the agent package receives
ready objects. The LLM side (langchain, openai: ~1.8 s of imports) loads only when an LLM is
configured, so `tastemaker extract` on the offline extractor starts without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from agent.builtin_gallery import ensure_builtin_gallery
from agent.extraction import Extractor
from agent.fallback import FallbackExtractor
from agent.gallery import Gallery, load_gallery
from agent.llm_deadline import MessageDeadline
from agent.offline import OfflineExtractor
from api.settings import Settings
from api.wiring.kept_images import GALLERY_PREFIX, keep_by_content
from api.wiring.services import Components, vocabulary_cache
from preference_store.blobs import BlobStore
from preference_store.embeddings import TextEmbedder
from preference_store.vector_cache import VocabularyCache

if TYPE_CHECKING:
    from langchain_openai import ChatOpenAI

    from agent.followup import FollowupWriter
    from agent.llm_extractor import LLMExtractor
    from agent.onboarding import ImageKeeper, OnboardingAgent
    from agent.turn import ChosenImages
    from preference_store.models import ImageReaction


def build_offline_extractor(embedder: TextEmbedder | None) -> OfflineExtractor:
    """The offline extractor, its vocabularies embedded now; read from disk when ``embedder``
    is a ``VocabularyCache`` that has them (the same vectors, without loading the model)."""
    extractor = OfflineExtractor(embedder)
    if isinstance(embedder, VocabularyCache):
        with embedder.persisting():
            extractor.warm_up()
    else:
        extractor.warm_up()
    return extractor


def build_chat_model(settings: Settings) -> ChatOpenAI:
    """The configured OpenAI-compatible chat model (transport retries bounded by settings)."""
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    if not settings.llm_configured:
        raise ValueError("no LLM configured: set TASTEMAKER_LLM_BASE_URL and TASTEMAKER_LLM_MODEL")
    key = settings.resolved_llm_api_key or "not-needed"  # local servers accept any key
    return ChatOpenAI(
        model=str(settings.llm_model),
        base_url=settings.llm_base_url,
        api_key=SecretStr(key),
        timeout=min(settings.llm_timeout_s, settings.llm_deadline_s),
        max_retries=1,  # one transport retry (a 429/5xx blip); validation retries are separate
        temperature=0,
        use_responses_api=False,
    )


def build_deadline(settings: Settings) -> MessageDeadline:
    """One per process: the extractor and the follow-up writer share each message's turn."""
    return MessageDeadline(settings.llm_deadline_s)


def build_llm_extractor(
    settings: Settings,
    offline: OfflineExtractor | None = None,
    deadline: MessageDeadline | None = None,
) -> LLMExtractor:
    """The LLM extractor; ``offline`` checks its polarities (a bare one is built if not given)."""
    from agent.llm_extractor import LLMExtractor
    from agent.polarity_check import ClausePolarity

    offline = offline or OfflineExtractor()
    return LLMExtractor(
        build_chat_model(settings),
        vision=settings.llm_vision,
        max_validation_retries=settings.llm_max_retries,
        output_mode=settings.llm_output_mode,
        deadline=deadline or build_deadline(settings),
        polarity=ClausePolarity(offline).verdict,
    )


def build_extractor(
    settings: Settings, embedder: TextEmbedder | None, deadline: MessageDeadline | None = None
) -> Extractor:
    """Offline when no LLM is configured; otherwise the LLM with the offline one behind it."""
    cached = vocabulary_cache(settings, embedder) if embedder is not None else None
    offline = build_offline_extractor(cached)
    if not settings.llm_configured:
        return offline
    return FallbackExtractor(build_llm_extractor(settings, offline, deadline), offline)


def build_followups(settings: Settings, deadline: MessageDeadline | None = None) -> FollowupWriter:
    from agent.followup import LLMFollowups, TemplateFollowups

    if settings.llm_configured:
        return LLMFollowups(build_chat_model(settings), deadline=deadline)
    return TemplateFollowups()


def build_gallery(settings: Settings, gallery_dir: Path | None = None) -> Gallery:
    """The person's own gallery when given (argument or setting), else the built-in one."""
    folder = gallery_dir or settings.gallery_dir
    if folder is not None:
        return load_gallery(folder)
    return ensure_builtin_gallery(settings.gallery_cache_dir / "builtin")


def build_agent(
    components: Components,
    gallery_dir: Path | None = None,
    *,
    extractor: Extractor | None = None,
    gallery: Gallery | None = None,
    chosen: ChosenImages | None = None,
) -> OnboardingAgent:
    """The onboarding agent; pass an extractor, gallery or the taste service's ``chosen`` to
    share one the caller already has."""
    from agent.onboarding import OnboardingAgent
    from agent.sessions import SessionRepository

    settings = components.settings
    deadline = _shared_deadline(extractor, settings)
    gallery = gallery or build_gallery(settings, gallery_dir)
    return OnboardingAgent(
        sessions=SessionRepository(components.engine),
        store=components.store,
        extractor=extractor or build_extractor(settings, components.embedder, deadline),
        gallery=gallery,
        followups=build_followups(settings, deadline),
        keep_image=gallery_image_keeper(components.blobs),
        chosen_images=chosen or _chosen_on_demand(components, gallery),
    )


def _chosen_on_demand(components: Components, gallery: Gallery) -> ChosenImages:
    """The taste service's ``chosen``, built at the first finish: its imports (CLIP,
    diffusers; seconds) stay out of an onboarding that never finishes."""
    built: list[ChosenImages] = []

    def chosen(user_id: str) -> Sequence[ImageReaction]:
        if not built:
            from api.wiring.taste import build_taste

            built.append(build_taste(components, gallery).chosen)
        return built[0](user_id)

    return chosen


def gallery_image_keeper(blobs: BlobStore) -> ImageKeeper:
    """A liked gallery image is recorded by content (``kept_images``), so the reaction still
    opens after the gallery copy moves, and on another machine in distributed mode."""

    def keep(path: Path) -> str:
        return keep_by_content(blobs, path, GALLERY_PREFIX)

    return keep


def _shared_deadline(extractor: Extractor | None, settings: Settings) -> MessageDeadline:
    """The deadline of a given LLM extractor (so the follow-up shares its turns), else new."""
    if extractor is None:
        return build_deadline(settings)
    from agent.llm_extractor import LLMExtractor

    primary = extractor.primary if isinstance(extractor, FallbackExtractor) else extractor
    if isinstance(primary, LLMExtractor) and primary.deadline is not None:
        return primary.deadline
    return build_deadline(settings)
