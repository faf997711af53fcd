"""Tiny random Stable Diffusion (1.x and XL) pipelines and a matching tiny CLIP, as fixtures.

The builders live in ``generation.tiny`` so that ``--model tiny`` builds exactly what the tests
use. Session-scoped fixtures share one instance per run: the pipelines are frozen (no parameter
collects gradients) and the code under test must leave them bit-identical, which tests check.
Tests that need a private copy call the builders directly.
"""

from __future__ import annotations

import pytest
from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
from transformers import CLIPTokenizer

from generation.clip import ClipBundle
from generation.tiny import (
    TinyClip,
    build_tiny_clip,
    build_tiny_sd,
    build_tiny_sdxl,
    build_tiny_tokenizer,
)

__all__ = ["build_tiny_clip", "build_tiny_sd", "build_tiny_sdxl", "build_tiny_tokenizer"]


@pytest.fixture(scope="session")
def tiny_clip() -> TinyClip:
    """A seeded tiny ``CLIPModel`` (+ tokenizer) whose text tower equals the tiny SD encoder."""
    return build_tiny_clip(seed=0)


@pytest.fixture(scope="session")
def tiny_sd(tiny_clip: TinyClip) -> StableDiffusionPipeline:
    """A seeded tiny SD 1.x pipeline (64x64 images in ~0.2 s on one thread)."""
    return build_tiny_sd(seed=0, clip=tiny_clip)


@pytest.fixture(scope="session")
def tiny_sdxl(tiny_clip: TinyClip) -> StableDiffusionXLPipeline:
    """A seeded tiny SDXL pipeline (two text encoders; the first matches the tiny CLIP)."""
    return build_tiny_sdxl(seed=0, clip=tiny_clip)


@pytest.fixture()
def tiny_tokenizer() -> CLIPTokenizer:
    """A fresh in-memory CLIP tokenizer with the 77-token window."""
    return build_tiny_tokenizer()


@pytest.fixture(scope="session")
def tiny_clip_bundle(tiny_clip: TinyClip) -> ClipBundle:
    """The tiny CLIP as ``generation`` consumes it (aesthetic embedding, gradients, scoring)."""
    return ClipBundle(model=tiny_clip.model, tokenizer=tiny_clip.tokenizer, name=tiny_clip.name)


@pytest.fixture(scope="session", params=["sd1", "sdxl"])
def tiny_pipeline(
    request: pytest.FixtureRequest,
    tiny_sd: StableDiffusionPipeline,
    tiny_sdxl: StableDiffusionXLPipeline,
) -> StableDiffusionPipeline | StableDiffusionXLPipeline:
    """Each test using it runs twice: on the tiny SD 1.x and on the tiny SDXL pipeline."""
    return tiny_sd if request.param == "sd1" else tiny_sdxl
