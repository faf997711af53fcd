"""How far could any learner get with a tag person's choices? (issue 22; docs/benchmarks.md)

``bench/choices.py``'s tag person likes three of the gallery's 92 tags. This script knows that
exactly: it keeps the posterior over every three-tag taste (C(92, 3) = 125,580 of them, a
uniform prior, the bench's 10 % flips as the likelihood) and orders each pair the way most of
the posterior does: with random pairs that is, to within the 0.02 margin the score skips, the
most agreement any learner can expect from the same answers (a ceiling). With active pairs it
asks the pair the posterior is least sure of (uncertainty sampling): one good policy, not a
bound.
Beside it, the taste model's own figures for the same people, answers and noise.

    python bench/choices_ceiling.py                        # 20 tag people, seed 0, ~20 s
    python bench/choices_ceiling.py --people 40 --seed 2000

No comments here: the goal is about choices alone.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import numpy as np  # noqa: E402

from bench.choices import BUDGETS, MARGIN, NOISE, Person, builtin_rows, draw_people, run_person  # noqa: E402
from generation.loading import load_clip  # noqa: E402
from generation.taste_features import TasteFeatures  # noqa: E402
from generation.tiny import TINY_CLIP_NAME  # noqa: E402
from preference_store.embeddings import SentenceTransformerEmbedder, packaged_minilm_path  # noqa: E402

TASTE_SIZE = 3  # tags per person, as in bench/choices.py


class ExactPosterior:
    """Every possible tag taste's utility per gallery image, and which side of each pair it
    prefers; the posterior is a log-weight per taste."""

    def __init__(self, embedder: SentenceTransformerEmbedder, tags: list[list[str]]) -> None:
        names = sorted({t for ts in tags for t in ts})
        vectors = np.asarray(embedder.embed(names))
        index = {t: i for i, t in enumerate(names)}
        cosine = vectors @ vectors.T
        # best[c, image]: the image's tag nearest to tag c (bench/choices.py's utility)
        best = np.stack([cosine[:, [index[t] for t in ts]].max(axis=1) for ts in tags], axis=1)
        tastes = np.asarray(list(itertools.combinations(range(len(names)), TASTE_SIZE)))
        self.utility = best[tastes].mean(axis=1)  # tastes × images
        self.pairs = list(itertools.combinations(range(len(tags)), 2))
        left, right = np.asarray(self.pairs).T
        self.prefers_left = (self.utility[:, left] >= self.utility[:, right]).astype(np.float32)

    def run(self, person: Person, *, active: bool, seed: int) -> dict[int, float]:
        """Agreement after each budget, answering as ``run_person`` does (same noise draws)."""
        rng = np.random.default_rng(seed)
        log_weight = np.zeros(len(self.utility))
        asked: list[int] = []
        results: dict[int, float] = {}
        for step in range(1, max(BUDGETS) + 1):
            p_left = self._p_left(log_weight)
            open_pairs = [q for q in range(len(self.pairs)) if q not in asked]
            if active:
                q = min(open_pairs, key=lambda q: abs(float(p_left[q]) - 0.5))
            else:
                q = open_pairs[int(rng.integers(len(open_pairs)))]
            left, right = self.pairs[q]
            said_left = person.image_utility[left] >= person.image_utility[right]
            if rng.random() < NOISE:
                said_left = not said_left
            agrees = (self.prefers_left[:, q] == 1.0) == said_left
            log_weight += np.where(agrees, np.log(1.0 - NOISE), np.log(NOISE))
            asked.append(q)
            if step in BUDGETS:
                results[step] = self._agreement(self._p_left(log_weight), person, set(asked))
        return results

    def _p_left(self, log_weight: np.ndarray) -> np.ndarray:
        weight = np.exp(log_weight - log_weight.max()).astype(np.float32)
        return np.asarray(weight @ self.prefers_left / weight.sum())

    def _agreement(self, p_left: np.ndarray, person: Person, asked: set[int]) -> float:
        right = total = 0
        for q, (i, j) in enumerate(self.pairs):
            gap = person.image_utility[i] - person.image_utility[j]
            if q in asked or abs(gap) <= MARGIN:
                continue
            total += 1
            right += (p_left[q] - 0.5) * gap > 0
        return right / max(total, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20, help="simulated tag people")
    parser.add_argument("--seed", type=int, default=0, help="as bench/choices.py's --seed")
    args = parser.parse_args()

    embedder = SentenceTransformerEmbedder(packaged_minilm_path(), name="all-MiniLM-L6-v2")
    features = TasteFeatures(embedder, load_clip(TINY_CLIP_NAME))
    gallery, tags = builtin_rows(features)
    people = draw_people(features, gallery, tags, args.people, args.seed)
    exact = ExactPosterior(embedder, tags)
    print(
        f"{args.people} tag people, seed {args.seed}, {NOISE:.0%} noisy answers; "
        f"{len(exact.utility):,} possible tastes"
    )
    print("learner                         pairs   " + " ".join(f"{b:>6}" for b in BUDGETS))
    for active in (True, False):
        for name in ("exact posterior (ceiling)", "taste model (tastemaker)"):
            rows = [
                exact.run(person, active=active, seed=args.seed * 100_003 + n)
                if name.startswith("exact")
                else run_person(
                    person,
                    gallery,
                    tags,
                    features,
                    active=active,
                    comments=0,
                    seed=args.seed * 100_003 + n,
                )
                for n, (kind, person) in enumerate(people)
                if kind == "tags"
            ]
            means = [statistics.mean(r[b] for r in rows) for b in BUDGETS]
            print(
                f"{name:<31} {'active' if active else 'random':<7} "
                + " ".join(f"{m:>6.1%}" for m in means)
            )


if __name__ == "__main__":
    main()
