"""The prompt-conflict check reads meaning, measured on labelled prompt/attribute pairs."""

from __future__ import annotations

import json
from pathlib import Path

from generation.conflicts import contradiction
from preference_store.models import Category, Polarity

PAIRS = Path(__file__).parent / "data" / "conflict_pairs.jsonl"


def _pairs() -> list[dict[str, str | bool]]:
    return [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line]


def _verdict(pair: dict[str, str | bool]) -> bool:
    reason = contradiction(
        str(pair["prompt"]),
        str(pair["attribute"]),
        Polarity(str(pair["polarity"])),
        Category(str(pair["category"])),
    )
    return reason is not None


def test_labelled_pairs_are_judged_right() -> None:
    pairs = _pairs()
    assert len(pairs) >= 60
    wrong = [
        f"{p['prompt']!r} / {p['attribute']!r}: expected {p['conflict']}"
        for p in pairs
        if _verdict(p) is not p["conflict"]
    ]
    assert len(wrong) <= len(pairs) // 20, wrong  # at least 95 % right


def test_black_and_white_conflicts_with_every_colour_attribute() -> None:
    prompt = "a black and white photo of a harbour"
    for colour in ("sage greens", "earthy tones", "teal and gold palette", "rich colours"):
        assert contradiction(prompt, colour, Polarity.LIKE, Category.COLOR) is not None, colour
    assert contradiction(prompt, "film grain", Polarity.LIKE, Category.TEXTURE) is None


def test_spelling_and_plurals_do_not_hide_a_conflict() -> None:
    assert contradiction("sepia photograph", "cool blues", Polarity.LIKE) is not None
    assert contradiction("a vivid, colourful market", "greyscale", Polarity.LIKE) is not None
