"""Scoring an extractor against the labelled comments in ``tests/data/extraction_eval.jsonl``.

Matching rule (written down so the figures can be judged):

* A phrase is normalised to a set of content tokens: lower case, British spellings folded
  ("colour" → "color", "grey" → "gray"), a short list of function words removed, and a plural
  "s" stripped from words longer than three letters.
* Two phrases match when the token-overlap F1 of those sets, 2·|A∩B| / (|A| + |B|), is at least
  0.5 — so "warm golden light" matches "golden light" (0.8), "saturated colors" matches
  "oversaturated colors" only through "color" (0.5), and "teal" does not match "gold accents".
* Within one comment, predicted and expected attributes are paired one-to-one, best overlap
  first, regardless of polarity. A pair with the same polarity is a true positive; a pair with
  opposite polarities is a *polarity error* (and counts as a false positive and a false negative).
* Precision = TP / predicted, recall = TP / expected, F1 their harmonic mean, micro-averaged over
  all comments. A comment with no expected attribute scores only through false positives.
* Strength, where a row labels it (``"strength": {"pink": "weak"}``), is checked on the true
  positive paired with that phrase: weak < 0.55 ≤ medium < 0.85 ≤ strong.

The file format (one JSON object a line) is shared with exported correction logs: ``id``,
``kind``, ``comment``, ``liked``, ``disliked`` and optionally ``image``, ``construction`` (the
linguistic construction the row tests, e.g. "comparison"), ``strength`` and ``categories`` (each
labelled phrase's category, for the per-category figures).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from agent.extraction import Extraction, ImageContext
from preference_store.models import Polarity

MATCH_THRESHOLD = 0.5
_FUNCTION_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "and",
        "with",
        "in",
        "on",
        "to",
        "too",
        "very",
        "so",
        "more",
        "less",
        "some",
        "lot",
        "lots",
        "bit",
        "this",
        "that",
        "its",
    ]
)
_SPELLING = {"colour": "color", "colours": "colors", "grey": "gray", "centred": "centered"}


def phrase_tokens(text: str) -> frozenset[str]:
    tokens = set()
    for raw in re.findall(r"[a-z0-9]+", text.lower()):
        word = _SPELLING.get(raw, raw)
        if word in _FUNCTION_WORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        tokens.add(word)
    return frozenset(tokens)


def overlap(a: str, b: str) -> float:
    left, right = phrase_tokens(a), phrase_tokens(b)
    if not left or not right:
        return 0.0
    return 2 * len(left & right) / (len(left) + len(right))


@dataclass(frozen=True)
class Labelled:
    """One labelled comment."""

    id: str
    kind: str
    comment: str
    image: ImageContext | None
    liked: tuple[str, ...]
    disliked: tuple[str, ...]
    construction: str = ""
    strength: tuple[tuple[str, str], ...] = ()
    categories: tuple[tuple[str, str], ...] = ()


def load_labelled(path: Path) -> list[Labelled]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        data = json.loads(line)
        image = ImageContext.model_validate(data["image"]) if data.get("image") else None
        rows.append(
            Labelled(
                id=data["id"],
                kind=data["kind"],
                comment=data["comment"],
                image=image,
                liked=tuple(data.get("liked", [])),
                disliked=tuple(data.get("disliked", [])),
                construction=data.get("construction", ""),
                strength=tuple(sorted(data.get("strength", {}).items())),
                categories=tuple(sorted(data.get("categories", {}).items())),
            )
        )
    return rows


@dataclass
class Score:
    """Counts for one comment or a whole set; the rates are derived."""

    true_positives: int = 0
    predicted: int = 0
    expected: int = 0
    polarity_errors: int = 0
    misses: list[str] = field(default_factory=list)
    strength_checked: int = 0
    strength_errors: int = 0

    def add(self, other: Score) -> None:
        self.true_positives += other.true_positives
        self.predicted += other.predicted
        self.expected += other.expected
        self.polarity_errors += other.polarity_errors
        self.misses.extend(other.misses)
        self.strength_checked += other.strength_checked
        self.strength_errors += other.strength_errors

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.expected if self.expected else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


STRENGTH_BANDS = {"weak": (0.0, 0.55), "medium": (0.55, 0.85), "strong": (0.85, 1.01)}


def strength_band(value: float) -> str:
    return next(name for name, (low, high) in STRENGTH_BANDS.items() if low <= value < high)


def _pairing(
    expected: list[tuple[str, Polarity]], predicted: list[tuple[str, Polarity]]
) -> list[tuple[int, int]]:
    """(predicted index, expected index) pairs, best overlap first, one-to-one."""
    candidates = sorted(
        (
            (overlap(p[0], e[0]), i, j)
            for i, p in enumerate(predicted)
            for j, e in enumerate(expected)
        ),
        reverse=True,
    )
    used_p: set[int] = set()
    used_e: set[int] = set()
    pairs = []
    for value, i, j in candidates:
        if value < MATCH_THRESHOLD or i in used_p or j in used_e:
            continue
        used_p.add(i)
        used_e.add(j)
        pairs.append((i, j))
    return pairs


def _expected(row: Labelled) -> list[tuple[str, Polarity]]:
    return [(t, Polarity.LIKE) for t in row.liked] + [(t, Polarity.DISLIKE) for t in row.disliked]


def score_one(row: Labelled, extraction: Extraction) -> Score:
    expected = _expected(row)
    predicted = [(a.text, a.polarity) for a in extraction.attributes]
    strengths = [a.strength for a in extraction.attributes]
    wanted_strength = dict(row.strength)
    pairs = _pairing(expected, predicted)
    used_p = {i for i, _ in pairs}
    used_e = {j for _, j in pairs}
    score = Score(predicted=len(predicted), expected=len(expected))
    for i, j in pairs:
        if predicted[i][1] is expected[j][1]:
            score.true_positives += 1
            band = wanted_strength.get(expected[j][0])
            if band is not None:
                score.strength_checked += 1
                got = strength_band(strengths[i])
                if got != band:
                    score.strength_errors += 1
                    score.misses.append(
                        f"{row.id}: strength of {predicted[i][0]!r} is {got}, expected {band}"
                    )
        else:
            score.polarity_errors += 1
            score.misses.append(f"{row.id}: polarity of {predicted[i][0]!r}")
    for i, (text, polarity) in enumerate(predicted):
        if i not in used_p:
            score.misses.append(f"{row.id}: extra {polarity.value} {text!r}")
    for j, (text, polarity) in enumerate(expected):
        if j not in used_e:
            score.misses.append(f"{row.id}: missed {polarity.value} {text!r}")
    return score


def score_all(
    rows: Iterable[Labelled],
    extractions: Iterable[Extraction],
    group: Callable[[Labelled], str] = lambda row: row.kind,
) -> dict[str, Score]:
    """Scores per group of comments (their ``kind`` unless told otherwise), plus ``"all"``."""
    totals: dict[str, Score] = {"all": Score()}
    for row, extraction in zip(rows, extractions, strict=True):
        one = score_one(row, extraction)
        totals.setdefault(group(row) or "-", Score()).add(one)
        totals["all"].add(replace(one, misses=list(one.misses)))
    return totals


def score_per_category(
    rows: Iterable[Labelled], extractions: Iterable[Extraction]
) -> dict[str, Score]:
    """Scores per attribute category, for rows that label categories (``"categories"``).

    An expected phrase counts under its labelled category; a predicted one under the category of
    the expected phrase it was paired with, or, when it matched nothing, under the category the
    extractor gave it. So per category: recall of what people said, precision of what was taken,
    and the polarity errors that would push generation the wrong way."""
    totals: dict[str, Score] = {}
    for row, extraction in zip(rows, extractions, strict=True):
        if not row.categories:
            continue
        labelled = dict(row.categories)
        expected = _expected(row)
        predicted = [(a.text, a.polarity) for a in extraction.attributes]
        pairs = dict(_pairing(expected, predicted))
        for text, _ in expected:
            totals.setdefault(labelled.get(text, "-"), Score()).expected += 1
        for i, attribute in enumerate(extraction.attributes):
            j = pairs.get(i)
            if j is None:
                totals.setdefault(str(attribute.category), Score()).predicted += 1
                continue
            score = totals.setdefault(labelled.get(expected[j][0], "-"), Score())
            score.predicted += 1
            if predicted[i][1] is expected[j][1]:
                score.true_positives += 1
            else:
                score.polarity_errors += 1
    return totals
