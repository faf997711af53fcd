"""Chosen images (issue 22; design.md, "Chosen images"): a person who only picks between images
gets an aesthetic embedding, style-training and PALP images from what they picked, each
weighted by the taste model's confidence; "neither" likes nothing; the picks are written once
per pick session, not once per pick; words win over picks; export/import keeps them. Real
SQLite, chromadb, MiniLM, tiny CLIP and the built-in gallery."""
# ruff: noqa: F811  (pytest fixtures imported from tests.test_taste_choices)

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from api.taste import TasteService
from generation.aesthetic import compute_aesthetic_embedding, ensure_aesthetic_embedding
from generation.clip import ClipBundle
from generation.palp_run import MAX_PALP_IMAGES
from generation.style_library import reaction_images
from preference_store.models import ImageReaction, Polarity
from preference_store.store import PreferenceStore
from preference_store.taste import MIN_CHOSEN_WEIGHT
from preference_store.transfer import export_profile, import_profile
from tests.test_taste_choices import (  # noqa: F401  (fixtures)
    WARM,
    engine,
    features,
    gallery,
    service,
    store,
)


def _pick(service: TasteService, user: str, rounds: int, *, neither: bool = False) -> set[str]:
    """Warm over the rest (or "neither" to everything); the images picked."""
    picked: set[str] = set()
    pair = service.next_pair(user, None)
    for _ in range(rounds):
        assert pair is not None and pair.right is not None
        if neither:
            answer = "neither"
        else:
            answer = "left" if pair.left in WARM else "right" if pair.right in WARM else "left"
            picked.add(pair.left if answer == "left" else pair.right)
        pair = service.answer(user, None, pair.id, answer)  # type: ignore[arg-type]
    return picked


def test_only_choices_give_an_aesthetic_embedding_of_the_chosen_images_by_confidence(
    service: TasteService, store: PreferenceStore, tiny_clip_bundle: ClipBundle
) -> None:
    picked = _pick(service, "alice", 12)
    assert store.versions("alice") == []  # twelve picks, no version yet
    chosen = service.chosen("alice")
    assert chosen and {r.image_id for r in chosen} <= picked
    model = service.model("alice")
    rows = service.rows()
    index = {image.id: i for i, image in enumerate(service.gallery.images)}
    for reaction in chosen:  # weight: the model's confidence the picked image is liked
        match = float(model.match(rows[index[reaction.image_id]])[0])
        assert reaction.weight == pytest.approx(2 * match - 1, abs=1e-3)
        assert reaction.weight >= MIN_CHOSEN_WEIGHT and reaction.chosen and reaction.path
    assert len({r.weight for r in chosen}) > 1  # not all alike: the weighting matters
    warm = [r.weight for r in chosen if r.image_id in WARM]
    other = [r.weight for r in chosen if r.image_id not in WARM]  # picked as the lesser evil
    assert chosen[0].image_id in WARM and np.mean(warm) > np.mean(other or [0.0])

    profile = store.set_chosen("alice", chosen)
    assert profile.version == 1 and store.set_chosen("alice", chosen).version == 1  # once
    assert [r.image_id for r in profile.liked_images] == [r.image_id for r in chosen]

    with_embedding = ensure_aesthetic_embedding(store, profile, tiny_clip_bundle)
    vector = np.asarray(with_embedding.aesthetic_embeddings[tiny_clip_bundle.name])
    images = [(Image.open(r.path or "").convert("RGB"), r.weight) for r in chosen]
    expected = compute_aesthetic_embedding(tiny_clip_bundle, images).numpy()
    assert np.allclose(vector, expected, atol=1e-5)
    unweighted = compute_aesthetic_embedding(tiny_clip_bundle, [(i, 1.0) for i, _ in images])
    assert not np.allclose(vector, unweighted.numpy(), atol=1e-4)

    # style training and PALP read the same images, style training with the same weights
    training = reaction_images(profile.liked_images)
    assert [t.weight for t in training] == [r.weight for r in chosen]
    assert len(chosen) <= MAX_PALP_IMAGES


def test_the_prior_skips_chosen_images_so_a_pick_is_not_counted_twice(
    service: TasteService, store: PreferenceStore
) -> None:
    _pick(service, "alice", 10)
    before = service.train("alice").weights
    store.set_chosen("alice", service.chosen("alice"))
    assert np.allclose(service.train("alice").weights, before)


def test_neither_likes_nothing_and_writes_no_version(
    service: TasteService, store: PreferenceStore
) -> None:
    _pick(service, "bob", 6, neither=True)
    assert service.counted("bob") == 6 and service.chosen("bob") == []
    assert store.set_chosen("bob", []).version == 0 and store.versions("bob") == []


def test_words_win_over_picks_and_a_new_set_replaces_the_old(
    service: TasteService, store: PreferenceStore
) -> None:
    _pick(service, "alice", 10)
    chosen = service.chosen("alice")
    spoken = chosen[0]
    store.record_feedback(
        "alice", [], ImageReaction(image_id=spoken.image_id, path=spoken.path), Polarity.DISLIKE
    )
    profile = store.set_chosen("alice", chosen)
    assert spoken.image_id not in {r.image_id for r in profile.liked_images}
    assert [r.image_id for r in profile.disliked_images] == [spoken.image_id]
    fewer = store.set_chosen("alice", chosen[1:2])
    assert [r.image_id for r in fewer.liked_images if r.chosen] == [chosen[1].image_id]


def test_export_and_import_keep_the_chosen_images_and_their_embedding(
    service: TasteService, store: PreferenceStore, tiny_clip_bundle: ClipBundle
) -> None:
    _pick(service, "alice", 10)
    profile = store.set_chosen("alice", service.chosen("alice"))
    embedded = ensure_aesthetic_embedding(store, profile, tiny_clip_bundle)
    document = export_profile(store, "alice", taste=service.choices)
    assert all(r["chosen"] for r in document["liked_images"])
    ranking = [r.image.id for r in service.ranking("alice")]

    imported = import_profile(store, {**document, "user_id": "carol"}, taste=service.choices)
    assert [(r.image_id, r.weight, r.chosen) for r in imported.liked_images] == [
        (r.image_id, r.weight, r.chosen) for r in profile.liked_images
    ]
    assert imported.aesthetic_embeddings == embedded.aesthetic_embeddings
    assert [r.image.id for r in service.ranking("carol")] == ranking  # prior still skips them


def test_pick_says_how_many_picks_it_left_out(
    service: TasteService, store: PreferenceStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tastemaker pick`'s last line accounts for every image picked: saved, or left out
    because it was picked as the lesser of two evils."""
    from api.cli.pick import _save_chosen

    picked = _pick(service, "alice", 15)
    kept = service.chosen("alice")
    assert len(kept) < len(picked)  # arbitrary picks between two cool images
    capsys.readouterr()
    _save_chosen(store, service, "alice")
    said = " ".join(capsys.readouterr().out.split())
    unsure = len(picked) - len(kept)
    assert f"Saved {len(kept)} chosen images as liked" in said
    assert f"; {unsure} other pick{'s' * (unsure > 1)} I am not sure you like, left out" in said
