"""The taste model and pair selection (design.md, "Taste from choices"), with the tiny CLIP and
the real MiniLM on the built-in gallery."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from agent.builtin_gallery import ensure_builtin_gallery
from agent.pair_choice import next_pair, open_pairs, unordered
from generation.clip import ClipBundle
from generation.taste_features import TasteFeatures
from preference_store.embeddings import SentenceTransformerEmbedder
from preference_store.models import Category, Polarity, Profile, VisualAttribute
from preference_store.taste import (
    DEFAULT_STRENGTH,
    TasteModel,
    comparisons_from,
    train,
)

WARM = {"sunset-hills", "golden-sea", "desert-noon", "spotlit-figure", "earth-stripes"}


@pytest.fixture(scope="module")
def gallery_rows(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: SentenceTransformerEmbedder,
    tiny_clip_bundle: ClipBundle,
) -> tuple[TasteFeatures, list[str], np.ndarray]:
    gallery = ensure_builtin_gallery(tmp_path_factory.mktemp("gallery"))
    features = TasteFeatures(embedder, tiny_clip_bundle)
    images = [Image.open(gallery.path(i)) for i in gallery.images]
    texts = [i.description for i in gallery.images]
    tags = [[t.text for t in i.tags] for i in gallery.images]
    return features, [i.id for i in gallery.images], features.rows(images, texts, tags)


def _pick(
    rows: np.ndarray, ids: list[str], prefers: set[str], rounds: int
) -> tuple[TasteModel, list[tuple[int, int]]]:
    """A person who always takes the image in ``prefers`` (the left one when both are, and
    "neither" when neither is), answering the pairs the model asks for."""
    answers: list[tuple[int, int, int | None]] = []
    shown: list[tuple[int, int]] = []
    prior = np.zeros(rows.shape[1])
    model = train(rows, answers, prior, feature_space="test")
    for _ in range(rounds):
        comparisons = comparisons_from(rows, answers, model.center)
        pair = next_pair(rows, model.weights, comparisons, shown, strength=DEFAULT_STRENGTH)
        assert pair is not None
        left, right = pair
        winner: int | None = left if ids[left] in prefers else None
        if ids[right] in prefers and winner is None:
            winner = right
        answers.append((left, right, winner))
        shown.append(pair)
        model = train(rows, answers, prior, feature_space="test")
    return model, shown


def test_a_person_who_likes_warm_palettes_sees_warm_images_ranked_first(
    gallery_rows: tuple[TasteFeatures, list[str], np.ndarray],
) -> None:
    _, ids, rows = gallery_rows
    model, _ = _pick(rows, ids, WARM, rounds=15)
    ranking = [ids[i] for i in np.argsort(-model.match(rows), kind="stable")]
    assert set(ranking[: len(WARM)]) == WARM, ranking
    matches = dict(zip(ids, model.match(rows), strict=True))
    others = [m for i, m in matches.items() if i not in WARM]
    assert min(matches[i] for i in WARM) > 0.5 > float(np.median(others))


def test_pairs_never_repeat_and_run_out(
    gallery_rows: tuple[TasteFeatures, list[str], np.ndarray],
) -> None:
    _, ids, rows = gallery_rows
    small = rows[:6]
    _, shown = _pick(small, ids[:6], {"sunset-hills"}, rounds=15)
    assert len({unordered(p) for p in shown}) == 15 == len(open_pairs(6, []))
    model = train(small, [(a, b, a) for a, b in shown], np.zeros(rows.shape[1]), feature_space="t")
    assert next_pair(small, model.weights, [], shown, strength=DEFAULT_STRENGTH) is None


def test_the_first_pair_is_the_broadest_contrast(
    gallery_rows: tuple[TasteFeatures, list[str], np.ndarray],
) -> None:
    _, _, rows = gallery_rows
    first = next_pair(rows, np.zeros(rows.shape[1]), [], [], strength=DEFAULT_STRENGTH)
    distances = {p: float(np.linalg.norm(rows[p[0]] - rows[p[1]])) for p in open_pairs(24, [])}
    assert first == max(distances, key=lambda p: distances[p])  # v ∝ ‖x_a − x_b‖²


def test_by_expected_ranking_error_the_first_pair_is_along_the_broadest_axis(
    gallery_rows: tuple[TasteFeatures, list[str], np.ndarray],
) -> None:
    """The alternative selection (bench/choices.py --selection error): its first pair is a
    broad contrast along the gallery's first principal component, whose answer tells most
    about the order of every other pair."""
    _, _, rows = gallery_rows
    first = next_pair(
        rows, np.zeros(rows.shape[1]), [], [], strength=DEFAULT_STRENGTH, selection="error"
    )
    assert first is not None
    pairs = open_pairs(24, [])
    distances = {p: float(np.linalg.norm(rows[p[0]] - rows[p[1]])) for p in pairs}
    assert distances[first] >= float(np.quantile(list(distances.values()), 0.9))
    axis = np.linalg.svd(rows - rows.mean(axis=0), full_matrices=False)[2][0]
    along = {p: abs(float((rows[p[0]] - rows[p[1]]) @ axis)) for p in pairs}
    assert along[first] >= float(np.quantile(list(along.values()), 0.9))


def test_liked_attributes_are_a_prior_before_any_choice(
    gallery_rows: tuple[TasteFeatures, list[str], np.ndarray],
) -> None:
    features, ids, rows = gallery_rows
    profile = Profile(
        user_id="alice",
        attributes=[
            VisualAttribute(user_id="alice", text="neon colors", category=Category.COLOR,
                            polarity=Polarity.LIKE),
            VisualAttribute(user_id="alice", text="earthy brown tones", category=Category.COLOR,
                            polarity=Polarity.DISLIKE),
        ],
    )  # fmt: skip
    model = train(rows, [], features.prior(profile, rows, ids), feature_space=features.name)
    ranking = [ids[i] for i in np.argsort(-model.match(rows), kind="stable")]
    assert ranking[0] in {"neon-grid", "busy-confetti"}, ranking
    matches = dict(zip(ids, model.match(rows), strict=True))
    assert matches["earth-stripes"] < 0.5 < min(matches["neon-grid"], matches["busy-confetti"])


def test_neither_pushes_both_images_below_average(
    gallery_rows: tuple[TasteFeatures, list[str], np.ndarray],
) -> None:
    _, _, rows = gallery_rows
    model = train(rows, [(0, 1, None)], np.zeros(rows.shape[1]), feature_space="t")
    assert model.match(rows[:2]).max() < 0.5 < float(np.mean(model.match(rows[2:])))


def test_an_image_without_a_description_is_scored_by_its_picture(
    gallery_rows: tuple[TasteFeatures, list[str], np.ndarray],
) -> None:
    features, _, rows = gallery_rows
    model = train(rows, [(0, 1, 0), (0, 2, 0)], np.zeros(rows.shape[1]), feature_space="t")
    picture_only = rows[:1].copy()
    picture_only[:, features.image_width :] = np.nan
    assert 0.0 < float(model.match(picture_only)[0]) < 1.0
    assert model.match(picture_only)[0] != model.match(rows[:1])[0]


def test_the_stored_model_is_small_and_reads_back(
    gallery_rows: tuple[TasteFeatures, list[str], np.ndarray],
) -> None:
    _, _, rows = gallery_rows
    model = train(rows, [(0, 1, 0), (2, 3, 3)], np.zeros(rows.shape[1]), feature_space="t")
    record = model.to_record()
    assert len(str(record)) < 8192  # a few KB: two float16 vectors of 800 (tiny CLIP + 2 MiniLM)
    again = TasteModel.from_record(record)
    assert np.allclose(again.match(rows), model.match(rows), atol=1e-2)
    assert again.choices == 2
    with pytest.raises(ValueError, match="float16"):
        TasteModel.from_record({**record, "dimension": 7})
    with pytest.raises(ValueError, match="feature space"):
        TasteModel.from_record({**record, "feature_space": "x" * 401})
    with pytest.raises(ValueError, match="whole numbers"):
        TasteModel.from_record({**record, "version": -1})


def test_retraining_is_deterministic(
    gallery_rows: tuple[TasteFeatures, list[str], np.ndarray],
) -> None:
    _, _, rows = gallery_rows
    answers: list[tuple[int, int, int | None]] = [(0, 5, 5), (3, 9, 3), (7, 8, None)]
    one = train(rows, answers, np.zeros(rows.shape[1]), feature_space="t")
    two = train(rows, answers, np.zeros(rows.shape[1]), feature_space="t")
    assert np.array_equal(one.weights, two.weights)
