"""LLM first, offline when the LLM fails: a person's comment always gets an answer."""

from __future__ import annotations

from agent.extraction import Extraction, ExtractionError, Extractor, ImageContext

FALLBACK_NOTICE = (
    "The language model did not answer properly, so the offline extractor read this comment."
)


class FallbackExtractor:
    """Tries ``primary``; on ``ExtractionError`` (after its own bounded retries) asks
    ``fallback`` and marks the result, so the reply can tell the person."""

    def __init__(self, primary: Extractor, fallback: Extractor) -> None:
        self.primary = primary
        self.fallback = fallback

    def extract(self, comment: str, image: ImageContext | None = None) -> Extraction:
        try:
            return self.primary.extract(comment, image)
        except ExtractionError as error:
            result = self.fallback.extract(comment, image)
            return result.model_copy(update={"fallback_reason": str(error)})
