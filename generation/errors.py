"""Typed errors of the generation package; ``api`` maps them to HTTP statuses and CLI messages."""

from __future__ import annotations


class GenerationError(Exception):
    """Base class: anything generation refuses or fails at, with a message a person can act on."""


class InvalidGenerationRequest(GenerationError, ValueError):
    """A request or setting is out of bounds; raised before any model is touched."""


class ModelNotFoundError(GenerationError):
    """The model name is neither a readable path, a cached hub id, nor ``tiny``."""


class HubUnreachableError(ModelNotFoundError):
    """A download was asked for but the hub cannot be reached (offline, or no network)."""


class ModelLoadError(GenerationError):
    """The model exists but could not be read as a Stable Diffusion 1.x / SDXL pipeline."""


class ClipMismatchError(GenerationError):
    """The CLIP model does not match the pipeline's text encoder (sizes or vocabulary differ)."""


class AestheticEmbeddingError(GenerationError, ValueError):
    """An aesthetic embedding is missing, malformed or of the wrong size."""
