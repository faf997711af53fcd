"""The per-person taste model: Bradley–Terry on feature differences, with a prior (design.md,
"Taste from choices").

A choice "a over b" says ``P(a ≻ b) = σ(w·(x_a − x_b))``. The weights minimise
``Σ c_i·log(1 + exp(−w·d_i)) + λ/2·‖w − w₀‖²`` over the choices' differences ``d_i`` (winner
minus loser, weight ``c_i``), where ``w₀`` is the prior made from the liked and disliked
attributes and images. By the representer theorem ``w = w₀ + Dᵀa`` with one coefficient per
choice, so Newton's method runs on an n×n system (n = choices, tens): it retrains in
milliseconds whatever the feature width. ``taste_match(x) = σ(w·(x − μ))``, μ the gallery's mean
feature: the chance the image beats an average gallery image (0.5: no opinion).

Pure numpy, no I/O: features come from ``generation.taste_features`` and the stored form of a
model from ``preference_store.choices``.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Vector = NDArray[np.float64]
Matrix = NDArray[np.float64]

DEFAULT_STRENGTH = 0.25  # λ: how firmly w stays at the prior (its σ is 1/√λ; bench/choices.py)
NEWTON_STEPS = 30
TOLERANCE = 1e-8
MAX_SPACE_NAME = 400  # the column's width (preference_store.choices)
MAX_COUNT = 2**31 - 1  # an SQL integer
NEITHER_WEIGHT = 0.5  # "neither": both images lose to the average image, at half a choice each
MIN_CHOSEN_WEIGHT = 0.05  # a chosen image the model is less sure of than this is not "liked"
MAX_CHOSEN_IMAGES = 16  # chosen images a profile keeps (the strongest)


@dataclass(frozen=True)
class Comparison:
    """One choice as a difference: ``winner − loser`` in feature space, and its weight."""

    difference: Vector
    weight: float = 1.0


def _sigmoid(z: Vector) -> Vector:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float64)


@dataclass(frozen=True)
class TasteModel:
    """Trained weights ``w``, the reference ``μ`` and what they were trained on."""

    weights: Vector
    center: Vector
    feature_space: str
    choices: int = 0
    version: int = 0

    def margins(self, features: Matrix) -> Vector:
        """``w·(x − μ)`` per row: the log-odds the image beats an average gallery image. A NaN
        (a part not known, e.g. no description) counts as average there."""
        rows = np.atleast_2d(features)
        rows = np.where(np.isnan(rows), self.center, rows)
        return np.asarray((rows - self.center) @ self.weights)

    def match(self, features: Matrix) -> Vector:
        """taste_match in [0, 1] per row of ``features``."""
        return _sigmoid(self.margins(features))

    def prefers(self, left: Vector, right: Vector) -> float:
        """P(left ≻ right) under the model."""
        return float(_sigmoid(np.asarray([self.weights @ (left - right)]))[0])

    # -- stored form (a few KB: float16, base64) ---------------------------------------------

    def to_record(self) -> dict[str, object]:
        return {
            "feature_space": self.feature_space,
            "choices": self.choices,
            "version": self.version,
            "dimension": int(self.weights.size),
            "weights": pack(self.weights),
            "center": pack(self.center),
        }

    @classmethod
    def from_record(cls, record: dict[str, object]) -> TasteModel:
        """The model a record describes; ValueError when it is malformed."""
        try:
            dimension = int(str(record["dimension"]))
            weights = unpack(str(record["weights"]), dimension)
            center = unpack(str(record["center"]), dimension)
            model = cls(
                weights=weights,
                center=center,
                feature_space=str(record["feature_space"]),
                choices=int(str(record["choices"])),
                version=int(str(record["version"])),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"a taste model record lacks {error}") from error
        if not 0 < len(model.feature_space) <= MAX_SPACE_NAME:
            raise ValueError(f"a feature space is named in 1 to {MAX_SPACE_NAME} characters")
        if not 0 <= model.choices <= MAX_COUNT or not 0 <= model.version <= MAX_COUNT:
            raise ValueError(f"choices and version are whole numbers from 0 to {MAX_COUNT}")
        return model


def pack(vector: Vector) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f2").tobytes()).decode("ascii")


def unpack(text: str, dimension: int, *, allow_nan: bool = False) -> Vector:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except ValueError as error:
        raise ValueError("taste model vectors are not base64") from error
    if len(raw) != 2 * dimension or not 0 < dimension <= 8192:
        raise ValueError(f"a taste model vector must hold {dimension} float16 numbers")
    vector = np.frombuffer(raw, dtype="<f2").astype(np.float64)
    if np.isinf(vector).any() or (not allow_nan and np.isnan(vector).any()):
        raise ValueError("taste model vectors must be finite")
    return vector


def prior_from(liked: Matrix, disliked: Matrix, center: Vector, *, scale: float = 1.0) -> Vector:
    """``w₀ = scale·(mean(liked) − mean(disliked))``, each side the average image when it is
    empty; NaN parts (a liked phrase has no picture) count as average too."""

    def side(rows: Matrix) -> Vector:
        if rows.size == 0:
            return center
        filled = np.where(np.isnan(rows), center, rows)
        return np.asarray(filled.mean(axis=0))

    return np.asarray(scale * (side(liked) - side(disliked)))


def fit(
    comparisons: Sequence[Comparison],
    prior: Vector,
    *,
    strength: float = DEFAULT_STRENGTH,
) -> Vector:
    """The weights that best explain ``comparisons`` given the ``prior`` (Newton, dual form)."""
    if not comparisons:
        return prior.copy()
    differences = np.stack([c.difference for c in comparisons])
    weights = np.asarray([c.weight for c in comparisons], dtype=np.float64)
    kernel = differences @ differences.T
    base = differences @ prior
    coefficients = np.zeros(len(comparisons))
    for _ in range(NEWTON_STEPS):
        margins = base + kernel @ coefficients
        residual = strength * coefficients - weights * _sigmoid(-margins)
        curvature = weights * _sigmoid(margins) * _sigmoid(-margins)
        jacobian = strength * np.eye(len(comparisons)) + curvature[:, None] * kernel
        step = np.linalg.solve(jacobian, -residual)
        coefficients += step
        if float(np.abs(step).max()) < TOLERANCE:
            break
    return np.asarray(prior + differences.T @ coefficients)


def outcome_variance(
    comparisons: Sequence[Comparison],
    weights: Vector,
    candidates: Matrix,
    *,
    strength: float = DEFAULT_STRENGTH,
) -> Vector:
    """The Laplace posterior variance of ``w·d`` for each candidate difference ``d`` (a row):
    ``dᵀ(λI + DᵀWD)⁻¹d`` by Woodbury, so it costs n×n, not width×width."""
    candidates = np.atleast_2d(candidates)
    prior_part = np.einsum("ij,ij->i", candidates, candidates) / strength
    if not comparisons:
        return np.asarray(prior_part)
    differences = np.stack([c.difference for c in comparisons])
    c = np.asarray([x.weight for x in comparisons])
    margins = differences @ weights
    curvature = c * _sigmoid(margins) * _sigmoid(-margins)
    kernel = differences @ differences.T
    inner = np.eye(len(comparisons)) + (curvature[:, None] * kernel) / strength
    cross = differences @ candidates.T  # n × m
    solved = np.linalg.solve(inner, curvature[:, None] * cross)
    reduction = np.einsum("ij,ij->j", cross, solved) / strength**2
    return np.asarray(np.maximum(prior_part - reduction, 0.0))


def train(
    features: Matrix,
    answers: Sequence[tuple[int, int, int | None]],
    prior: Vector,
    *,
    feature_space: str,
    strength: float = DEFAULT_STRENGTH,
    version: int = 0,
    reactions: Sequence[tuple[Vector, bool]] = (),
) -> TasteModel:
    """A model from ``answers`` over the rows of ``features`` (the gallery, whose mean is μ).

    Each answer is ``(left, right, winner)``: ``winner`` is ``left`` or ``right``, or None for
    "neither" (both lose to the average image). ``reactions`` are liked (True) or disliked
    images outside the gallery, by their features: each beats (or loses to) the average image.
    """
    center = features.mean(axis=0)
    comparisons = comparisons_from(features, answers, center)
    for row, liked in reactions:
        x = np.where(np.isnan(row), center, row)  # an unknown part counts as average
        comparisons.append(Comparison(x - center if liked else center - x))
    weights = fit(comparisons, prior, strength=strength)
    counted = len(answers) + len(reactions)
    return TasteModel(weights, center, feature_space, choices=counted, version=version)


def comparisons_from(
    features: Matrix, answers: Sequence[tuple[int, int, int | None]], center: Vector
) -> list[Comparison]:
    """The differences the answers stand for (see ``train``)."""
    found: list[Comparison] = []
    for left, right, winner in answers:
        if winner is None:
            found += [Comparison(center - features[i], NEITHER_WEIGHT) for i in (left, right)]
        else:
            loser = right if winner == left else left
            found.append(Comparison(features[winner] - features[loser]))
    return found


def chosen_images(
    model: TasteModel, features: Matrix, answers: Sequence[tuple[int, int, int | None]]
) -> list[tuple[int, float]]:
    """The images picked at least once, as (row, weight), strongest first: a chosen image
    counts as liked with the model's confidence that it is, ``2·taste_match − 1`` (0 at a
    coin toss, 1 when sure). One picked as the lesser of two evils scores low and is left out
    (under ``MIN_CHOSEN_WEIGHT``); "neither" picks nothing."""
    winners = sorted({w for _, _, w in answers if w is not None})
    if not winners:
        return []
    confidence = 2.0 * model.match(features[winners]) - 1.0
    kept = [(i, round(float(c), 4)) for i, c in zip(winners, confidence, strict=True)]
    kept = [(i, min(c, 1.0)) for i, c in kept if c >= MIN_CHOSEN_WEIGHT]
    kept.sort(key=lambda pair: (-pair[1], pair[0]))
    return kept[:MAX_CHOSEN_IMAGES]
