"""LLM first, offline when the LLM fails: a person's comment always gets an answer."""

from __future__ import annotations

import logging

from agent.extraction import Extraction, ExtractionError, Extractor, ImageContext, InvalidComment

FALLBACK_NOTICE = (
    "The language model did not answer properly, so the offline extractor read this comment."
)
log = logging.getLogger("tastemaker.extraction")


class FallbackExtractor:
    """Tries ``primary``; when it fails in any way (``ExtractionError`` after its own bounded
    retries, or anything unexpected from the client library) asks ``fallback`` and marks the
    result, so the reply can tell the person why. A comment that is itself unusable
    (``InvalidComment``) is refused, not retried offline."""

    def __init__(self, primary: Extractor, fallback: Extractor) -> None:
        self.primary = primary
        self.fallback = fallback

    def extract(self, comment: str, image: ImageContext | None = None) -> Extraction:
        try:
            return self.primary.extract(comment, image)
        except InvalidComment:
            raise
        except ExtractionError as error:
            reason = str(error)  # "timeout: ...", "refused: ...", "invalid: ...", "too long: ..."
        except Exception as error:  # a library bug must not cost the person an answer
            log.exception("the primary extractor failed unexpectedly")
            reason = f"the language model client failed: {type(error).__name__}: {error}"
        # A slow local model's first call (loading weights) is the usual timeout: say so loudly.
        log.warning("LLM extraction fell back to the offline extractor: %s", reason)
        result = self.fallback.extract(comment, image)
        note = f"the language model failed ({reason}); the offline extractor answered"
        return result.model_copy(update={"fallback_reason": reason, "notes": [note, *result.notes]})
