"""Which two gallery images to show next (design.md, "Taste from choices": active selection).

Each pair not shown before is scored by how much its answer would teach: the posterior variance
``v`` of ``w·(x_a − x_b)`` times ``p(1 − p)``, with ``p`` the predicted chance of "a" softened by
that variance (``p = σ(m/√(1 + πv/8))``). Under the isotropic prior ``v ∝ ‖x_a − x_b‖²``, so the
first pairs are the farthest apart: broad contrasts (palette, light, medium) before fine ones.
Images already shown are discounted (``γ`` per appearance) so the pairs spread over the gallery.
Ties go to the lower index: the order is deterministic.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Sequence

import numpy as np

from preference_store.taste import Comparison, Matrix, Vector, outcome_variance

SHOWN_DISCOUNT = 0.35  # γ: each earlier appearance of an image multiplies a pair's worth by e^-γ

Pair = tuple[int, int]


def unordered(pair: Pair) -> Pair:
    return (pair[0], pair[1]) if pair[0] < pair[1] else (pair[1], pair[0])


def open_pairs(count: int, shown: Collection[Pair]) -> list[Pair]:
    """Every pair of ``count`` images not shown yet (in either order)."""
    seen = {unordered(p) for p in shown}
    return [(i, j) for i in range(count) for j in range(i + 1, count) if (i, j) not in seen]


def pair_values(
    features: Matrix,
    weights: Vector,
    comparisons: Sequence[Comparison],
    candidates: Sequence[Pair],
    shown: Sequence[Pair],
    *,
    strength: float,
) -> Vector:
    """What asking each candidate pair is worth (see the module's docstring)."""
    if not candidates:
        return np.zeros(0)
    left = np.asarray([a for a, _ in candidates])
    right = np.asarray([b for _, b in candidates])
    differences = features[left] - features[right]
    variance = outcome_variance(comparisons, weights, differences, strength=strength)
    softened = (differences @ weights) / np.sqrt(1.0 + math.pi * variance / 8.0)
    p = 0.5 * (1.0 + np.tanh(0.5 * softened))
    uses = Counter(i for pair in shown for i in pair)
    appearances = np.asarray([uses[a] + uses[b] for a, b in candidates], dtype=np.float64)
    return np.asarray(variance * p * (1.0 - p) * np.exp(-SHOWN_DISCOUNT * appearances))


def next_pair(
    features: Matrix,
    weights: Vector,
    comparisons: Sequence[Comparison],
    shown: Sequence[Pair],
    *,
    strength: float,
) -> Pair | None:
    """The most informative pair not shown yet, or None when every pair has been shown."""
    candidates = open_pairs(len(features), shown)
    if not candidates:
        return None
    values = pair_values(features, weights, comparisons, candidates, shown, strength=strength)
    return candidates[int(np.argmax(values))]


def random_pair(count: int, shown: Sequence[Pair], rng: np.random.Generator) -> Pair | None:
    """A pair not shown yet, uniformly (the baseline bench/choices.py compares against)."""
    candidates = open_pairs(count, shown)
    if not candidates:
        return None
    return candidates[int(rng.integers(len(candidates)))]
