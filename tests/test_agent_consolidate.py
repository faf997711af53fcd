"""The written consolidation rules (agent/consolidate.py), one behaviour per test."""

from __future__ import annotations

from agent.consolidate import ImageVerdict, consolidate, image_reactions
from preference_store.models import AttributeDraft, Category, Polarity

LIKE, DISLIKE = Polarity.LIKE, Polarity.DISLIKE


def draft(text: str, polarity: Polarity, strength: float = 0.7, said: str = "") -> AttributeDraft:
    return AttributeDraft(
        text=text,
        category=Category.COLOR,
        polarity=polarity,
        strength=strength,
        evidence=[said or text],
    )


def test_duplicates_merge_with_evidence_and_a_stronger_strength() -> None:
    merged, notes = consolidate(
        [
            draft("Teal palette", LIKE, 0.7, "love the teal"),
            draft("teal  palette", LIKE, 0.6, "teal!"),
        ]
    )
    assert len(merged) == 1 and not notes
    assert merged[0].text == "Teal palette"
    assert merged[0].strength == 0.8  # strongest mention + 0.1 for the second
    assert merged[0].evidence == ["love the teal", "teal!"]


def test_clear_majority_wins_when_said_both_ways() -> None:
    merged, notes = consolidate(
        [draft("neon", DISLIKE, 0.9), draft("neon", DISLIKE, 0.7), draft("neon", LIKE, 0.4)]
    )
    assert [(a.text, a.polarity) for a in merged] == [("neon", DISLIKE)]
    assert merged[0].strength < 1.0  # weakened by the contrary mention
    assert "kept as dislike" in notes[0]


def test_ambivalence_drops_the_attribute() -> None:
    merged, notes = consolidate([draft("grain", LIKE, 0.7), draft("grain", DISLIKE, 0.6)])
    assert merged == []
    assert "left out" in notes[0]


def test_image_weights_follow_the_verdict() -> None:
    liked, disliked = image_reactions(
        [
            ImageVerdict(
                "a", "/g/a.png", LIKE, (draft("teal", LIKE, 0.9), draft("clutter", DISLIKE))
            ),
            ImageVerdict("b", "/g/b.png", DISLIKE, ()),
            ImageVerdict("c", "/g/c.png", None, (draft("gold", LIKE),)),
        ]
    )
    assert [(r.image_id, r.weight, r.path) for r in liked] == [("a", 0.9, "/g/a.png")]
    assert [(r.image_id, r.weight) for r in disliked] == [("b", 0.7)]
