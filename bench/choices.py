"""How fast does the taste model learn from choices? (issue 22; design.md, "Taste from choices")

Simulated people answer "which do you prefer?" on the built-in gallery with a hidden taste, and
flip 10 % of their answers:
- direction: a random direction ``h`` in the feature space; utility ``h·x``;
- tags: three of the gallery's tags; utility = mean over them of the best cosine (MiniLM) to
  one of the image's tags, so an image with a near-synonym counts too.
Held-out agreement: of the gallery pairs not asked whose utilities differ (by > 0.02), the share
the model orders as the person would. Printed after 5, 10, 15 and 20 choices, for active pair
selection and random pairs, with and without three comments first (each on a random image: a
liked tag when the person likes the image more than the median, else a disliked one, chosen
as the image's tag the person likes most, or least). Then the retrain and score times.

    python bench/choices.py                 # tiny CLIP + MiniLM, offline, ~1 min
    python bench/choices.py --people 40 --seed 2000     # the held-out people
    python bench/choices.py --people 40 --clip openai/clip-vit-large-patch14

Constants are tuned on seeds 0..999 only (several, not one draw); seeds from 2000 on are held
out, run once when the code is frozen (docs/benchmarks.md).
A line counts surprising picks (the model gave the image not picked more than t; compare
``TASTEMAKER_WHY_SURPRISE``) among the first 15 active choices without comments.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from agent.builtin_gallery import ensure_builtin_gallery  # noqa: E402
from agent.pair_choice import SELECTION, next_pair, random_pair  # noqa: E402
from generation.loading import load_clip  # noqa: E402
from generation.taste_features import PRIOR_SCALE, TasteFeatures  # noqa: E402
from generation.tiny import TINY_CLIP_NAME  # noqa: E402
from preference_store.embeddings import SentenceTransformerEmbedder, packaged_minilm_path  # noqa: E402
from preference_store.taste import (  # noqa: E402
    DEFAULT_STRENGTH,
    comparisons_from,
    prior_from,
    train,
)

BUDGETS = (5, 10, 15, 20)
NOISE = 0.10
MARGIN = 0.02
SURPRISES = (0.55, 0.6, 0.65, 0.75)  # thresholds for "the model gave the other image > t"
against: list[list[float]] = []  # per active run without comments: P(image not picked), 15 picks

Utility = Callable[[np.ndarray], np.ndarray]


class Person:
    """A hidden taste: a utility per gallery image, and one per tag phrase (for comments)."""

    def __init__(self, image_utility: np.ndarray, tag_utility: Callable[[str], float]) -> None:
        self.image_utility = image_utility
        self.tag_utility = tag_utility


def agreement(model_margins: np.ndarray, utility: np.ndarray, asked: set[tuple[int, int]]) -> float:
    right = total = 0
    count = len(utility)
    for i in range(count):
        for j in range(i + 1, count):
            gap = utility[i] - utility[j]
            if (i, j) in asked or abs(gap) <= MARGIN:
                continue
            total += 1
            right += (model_margins[i] - model_margins[j]) * gap > 0
    return right / max(total, 1)


def run_person(
    person: Person,
    gallery: np.ndarray,
    tags: list[list[str]],
    features: TasteFeatures,
    *,
    active: bool,
    comments: int,
    seed: int,
    strength: float = DEFAULT_STRENGTH,
    prior_scale: float = PRIOR_SCALE,
    selection: str = SELECTION,
) -> dict[int, float]:
    rng = np.random.default_rng(seed)
    if active and not comments:
        against.append([])
    center = gallery.mean(axis=0)
    liked_rows: list[str] = []
    disliked_rows: list[str] = []
    median = float(np.median(person.image_utility))
    for image in rng.choice(len(gallery), size=comments, replace=False):
        ranked = sorted(tags[image], key=person.tag_utility)
        if person.image_utility[image] > median:
            liked_rows.append(ranked[-1])
        else:
            disliked_rows.append(ranked[0])
    width = gallery.shape[1]
    liked = (
        features.rows([None] * len(liked_rows), liked_rows) if liked_rows else np.zeros((0, width))
    )
    disliked = (
        features.rows([None] * len(disliked_rows), disliked_rows)
        if disliked_rows
        else np.zeros((0, width))
    )
    prior = prior_from(liked, disliked, center, scale=prior_scale)
    answers: list[tuple[int, int, int | None]] = []
    shown: list[tuple[int, int]] = []
    results: dict[int, float] = {}
    model = train(gallery, answers, prior, feature_space=features.name, strength=strength)
    for step in range(1, max(BUDGETS) + 1):
        if active:
            comparisons = comparisons_from(gallery, answers, center)
            pair = next_pair(
                gallery, model.weights, comparisons, shown, strength=strength, selection=selection
            )
        else:
            pair = random_pair(len(gallery), shown, rng)
        assert pair is not None
        left, right = pair
        prefers_left = person.image_utility[left] >= person.image_utility[right]
        if rng.random() < NOISE:
            prefers_left = not prefers_left
        if active and not comments and step <= 15:
            p_left = model.prefers(gallery[left], gallery[right])
            against[-1].append(1.0 - p_left if prefers_left else p_left)
        answers.append((left, right, left if prefers_left else right))
        shown.append(pair)
        model = train(gallery, answers, prior, feature_space=features.name, strength=strength)
        if step in BUDGETS:
            asked = {(min(p), max(p)) for p in shown}
            results[step] = agreement(model.margins(gallery), person.image_utility, asked)
    return results


def builtin_rows(features: TasteFeatures) -> tuple[np.ndarray, list[list[str]]]:
    """The built-in gallery's feature rows and each image's tags."""
    with tempfile.TemporaryDirectory() as folder:
        built = ensure_builtin_gallery(Path(folder))
        images = [Image.open(built.path(i)).convert("RGB") for i in built.images]
        texts = [i.description for i in built.images]
        tags = [[t.text for t in i.tags] for i in built.images]
    return features.rows(images, texts, tags), tags


def draw_people(
    features: TasteFeatures, gallery: np.ndarray, tags: list[list[str]], count: int, seed: int
) -> list[tuple[str, Person]]:
    """``count`` direction people, then ``count`` tag people, drawn from ``seed``."""
    embedder = features.embedder
    tag_vectors = {
        t: np.asarray(v)
        for t, v in zip(
            sorted({t for ts in tags for t in ts}),
            embedder.embed(sorted({t for ts in tags for t in ts})),
            strict=True,
        )
    }
    center = gallery.mean(axis=0)
    rng = np.random.default_rng(seed)
    people: list[tuple[str, Person]] = []
    names = sorted(tag_vectors)  # each tag's row once (the same for every person)
    tag_rows = dict(zip(names, features.rows([None] * len(names), names), strict=True))
    for _ in range(count):
        drawn = rng.normal(size=gallery.shape[1])
        hidden = np.asarray(drawn / float(np.linalg.norm(drawn)))

        def by_direction(tag: str, h: np.ndarray = hidden, rows: dict = tag_rows) -> float:
            return float(np.where(np.isnan(rows[tag]), center, rows[tag]) @ h - center @ h)

        people.append(("direction", Person((gallery - center) @ hidden, by_direction)))
    all_tags = sorted(tag_vectors)
    for _ in range(count):
        chosen = [all_tags[i] for i in rng.choice(len(all_tags), size=3, replace=False)]

        def by_tags(tag: str, chosen: list[str] = chosen) -> float:
            return float(np.mean([tag_vectors[tag] @ tag_vectors[c] for c in chosen]))

        utility = np.asarray(
            [
                np.mean([max(tag_vectors[t] @ tag_vectors[c] for t in ts) for c in chosen])
                for ts in tags
            ]
        )
        people.append(("tags", Person(utility, by_tags)))
    return people


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20, help="simulated people of each kind")
    parser.add_argument("--clip", default=TINY_CLIP_NAME, help="CLIP model (hub id or folder)")
    parser.add_argument("--strength", type=float, default=DEFAULT_STRENGTH, help="λ")
    parser.add_argument("--prior-scale", type=float, default=PRIOR_SCALE, help="w₀ per comment")
    parser.add_argument("--selection", default=SELECTION, choices=("variance", "error"))
    parser.add_argument(
        "--active-only", action="store_true", help="skip the random-pair rows (for tuning)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="draws the people and their noise (tuned on 0..999)"
    )
    args = parser.parse_args()

    embedder = SentenceTransformerEmbedder(packaged_minilm_path(), name="all-MiniLM-L6-v2")
    features = TasteFeatures(embedder, load_clip(args.clip))
    gallery, tags = builtin_rows(features)
    people = draw_people(features, gallery, tags, args.people, args.seed)
    print(
        f"features: {features.name} ({features.width}-d); gallery {len(gallery)} images; "
        f"{args.people} people of each kind; {NOISE:.0%} noisy answers; seed {args.seed}"
    )
    header = "kind       selection  comments " + " ".join(f"{b:>6}" for b in BUDGETS)
    print(header)
    for kind in ("direction", "tags"):
        for comments in (0, 3):
            for active in (True,) if args.active_only else (True, False):
                rows = [
                    run_person(
                        p,
                        gallery,
                        tags,
                        features,
                        active=active,
                        comments=comments,
                        seed=args.seed * 100_003 + n,
                        strength=args.strength,
                        prior_scale=args.prior_scale,
                        selection=args.selection,
                    )
                    for n, (k, p) in enumerate(people)
                    if k == kind
                ]
                means = [statistics.mean(r[b] for r in rows) for b in BUDGETS]
                print(
                    f"{kind:<10} {'active' if active else 'random':<10} {comments:>8} "
                    + " ".join(f"{m:>6.1%}" for m in means)
                )

    counts = [
        f"> {t}: {statistics.mean(sum(p > t for p in run) for run in against):.2f}"
        for t in SURPRISES
    ]
    print("surprising picks in 15 active choices (mean; P(image not picked))", "; ".join(counts))
    answers = [(i % len(gallery), (i * 7 + 3) % len(gallery), i % len(gallery)) for i in range(20)]
    prior = np.zeros(gallery.shape[1])
    retrain = []
    for _ in range(50):
        start = time.perf_counter()
        model = train(gallery, answers, prior, feature_space=features.name)
        retrain.append(time.perf_counter() - start)
    scoring = []
    row = gallery[:1]
    for _ in range(200):
        start = time.perf_counter()
        model.match(row)
        scoring.append(time.perf_counter() - start)
    print(
        f"retrain on 20 choices: median {statistics.median(retrain) * 1e3:.2f} ms; "
        f"taste_match of one image after its embedding: median "
        f"{statistics.median(scoring) * 1e3:.3f} ms"
    )


if __name__ == "__main__":
    main()
