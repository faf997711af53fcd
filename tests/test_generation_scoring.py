"""The proxy preference score: in [0, 1], 0.5 when nothing speaks for or against an image."""

from __future__ import annotations

import pytest
from PIL import Image

from generation.aesthetic import compute_aesthetic_embedding
from generation.scoring import PreferenceScorer
from preference_store.models import Category, Polarity, Profile, VisualAttribute


def solid(rgb: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (64, 64), rgb)


def attribute(text: str, polarity: Polarity) -> VisualAttribute:
    return VisualAttribute(
        user_id="alice", text=text, polarity=polarity, category=Category.COLOR, strength=0.8
    )


def test_empty_profile_is_indifferent(tiny_clip_bundle) -> None:
    scores = PreferenceScorer(tiny_clip_bundle).score(
        [solid((0, 128, 128)), solid((250, 10, 10))], Profile(user_id="alice")
    )
    assert [s.score for s in scores] == [pytest.approx(0.5), pytest.approx(0.5)]


def test_images_like_the_liked_ones_score_higher(tiny_clip_bundle) -> None:
    liked, other = solid((0, 128, 128)), solid((250, 240, 10))
    embedding = compute_aesthetic_embedding(tiny_clip_bundle, [(liked, 1.0)])
    profile = Profile(user_id="alice", aesthetic_embeddings={"tiny-clip": embedding.tolist()})
    scorer = PreferenceScorer(tiny_clip_bundle)
    high, low = scorer.score([liked, other], profile)
    assert 0.5 < high.score <= 1.0 and 0.0 <= low.score < high.score
    assert high.aesthetic_similarity == pytest.approx(1.0, abs=1e-5)


def test_liked_and_disliked_attributes_pull_in_opposite_directions(tiny_clip_bundle) -> None:
    image = solid((30, 90, 160))
    scorer = PreferenceScorer(tiny_clip_bundle)
    forward = Profile(
        user_id="alice",
        attributes=[
            attribute("teal palette", Polarity.LIKE),
            attribute("harsh flash", Polarity.DISLIKE),
        ],
    )
    flipped = Profile(
        user_id="alice",
        attributes=[
            attribute("teal palette", Polarity.DISLIKE),
            attribute("harsh flash", Polarity.LIKE),
        ],
    )
    (a,), (b,) = scorer.score([image], forward), scorer.score([image], flipped)
    assert a.score + b.score == pytest.approx(1.0)  # symmetric around indifference
    assert 0.0 <= a.score <= 1.0
