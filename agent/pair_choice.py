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
SELECTION = "variance"  # "variance" (v·p(1−p)) or "error" (expected ranking-error reduction)

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


def _sigmoid(z: Vector) -> Vector:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


def posterior_kernel(
    features: Matrix, weights: Vector, comparisons: Sequence[Comparison], *, strength: float
) -> Matrix:
    """``X Σ Xᵀ``: the Laplace posterior covariance of the images' utilities ``w·x``, with
    ``Σ = (λI + DᵀCD)⁻¹`` by Woodbury (n×n, n = choices)."""
    x = np.nan_to_num(features)
    kernel = x @ x.T / strength
    if not comparisons:
        return np.asarray(kernel)
    d = np.stack([c.difference for c in comparisons])
    c = np.asarray([k.weight for k in comparisons])
    margins = d @ weights
    curvature = c * _sigmoid(margins) * _sigmoid(-margins)
    inner = np.eye(len(comparisons)) + curvature[:, None] * (d @ d.T) / strength
    cross = d @ x.T  # n × images
    solved = np.linalg.solve(inner, curvature[:, None] * cross)
    return np.asarray(kernel - cross.T @ solved / strength**2)


def error_reduction(
    features: Matrix,
    weights: Vector,
    comparisons: Sequence[Comparison],
    candidates: Sequence[Pair],
    *,
    strength: float,
) -> Vector:
    """How much asking each candidate is expected to lower the ranking error: the expected
    number of gallery pairs the model orders wrongly, ``Σ σ(−|m|/√(1 + πv/8))``, now minus
    after either answer (weighted by its predicted chance), the posterior moved by one Newton
    step along the candidate's difference (design.md, "Taste from choices": active pairs)."""
    count = len(features)
    kernel = posterior_kernel(features, weights, comparisons, strength=strength)
    utility = np.nan_to_num(features) @ weights
    i, j = np.triu_indices(count, 1)
    mean = utility[i] - utility[j]
    variance = np.maximum(kernel[i, i] + kernel[j, j] - 2 * kernel[i, j], 0.0)

    def errors(m: Matrix, v: Matrix) -> Vector:
        return np.asarray(_sigmoid(-np.abs(m) / np.sqrt(1.0 + np.pi * v / 8.0)).sum(axis=-1))

    now = float(errors(mean, variance))
    a = np.asarray([p[0] for p in candidates])
    b = np.asarray([p[1] for p in candidates])
    # cov(w·(x_i − x_j), w·(x_a − x_b)) for every candidate (rows) and gallery pair (columns)
    cov = kernel[i][:, a].T - kernel[i][:, b].T - kernel[j][:, a].T + kernel[j][:, b].T
    m_ab = utility[a] - utility[b]
    v_ab = np.maximum(kernel[a, a] + kernel[b, b] - 2 * kernel[a, b], 0.0)
    sure = _sigmoid(m_ab)
    curvature = sure * (1.0 - sure)
    shrink = 1.0 + curvature * v_ab
    after_v = np.maximum(variance[None, :] - curvature[:, None] * cov**2 / shrink[:, None], 0.0)
    p_a = _sigmoid(m_ab / np.sqrt(1.0 + np.pi * v_ab / 8.0))
    expected = np.zeros(len(candidates))
    for outcome, chance in ((1.0, p_a), (0.0, 1.0 - p_a)):
        after_m = mean[None, :] + cov * ((outcome - sure) / shrink)[:, None]
        expected += chance * errors(after_m, after_v)
    return np.asarray(now - expected)


def next_pair(
    features: Matrix,
    weights: Vector,
    comparisons: Sequence[Comparison],
    shown: Sequence[Pair],
    *,
    strength: float,
    selection: str = SELECTION,
) -> Pair | None:
    """The most informative pair not shown yet, or None when every pair has been shown:
    by ``error_reduction`` (``selection`` "error") or by ``pair_values`` ("variance")."""
    candidates = open_pairs(len(features), shown)
    if not candidates:
        return None
    if selection == "error":
        values = error_reduction(features, weights, comparisons, candidates, strength=strength)
        uses = Counter(i for pair in shown for i in pair)
        seen = np.asarray([uses[a] + uses[b] for a, b in candidates], dtype=np.float64)
        values = values * np.exp(-SHOWN_DISCOUNT * seen)
    else:
        values = pair_values(features, weights, comparisons, candidates, shown, strength=strength)
    return candidates[int(np.argmax(values))]


def random_pair(count: int, shown: Sequence[Pair], rng: np.random.Generator) -> Pair | None:
    """A pair not shown yet, uniformly (the baseline bench/choices.py compares against)."""
    candidates = open_pairs(count, shown)
    if not candidates:
        return None
    return candidates[int(rng.integers(len(candidates)))]
