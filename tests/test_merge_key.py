"""The store's merge key: spelling, plurals and word order do not make a new attribute."""

from __future__ import annotations

import pytest

from preference_store.merge_key import merge_key, singular
from preference_store.merging import merge_drafts
from preference_store.models import AttributeDraft, Category, Polarity

LIKE, DISLIKE = Polarity.LIKE, Polarity.DISLIKE


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("muted colours", "muted colors"),
        ("grey tones", "gray tone"),
        ("Soft shadows", "soft shadow"),
        ("stormy skies", "stormy sky"),
        ("visible brushes", "visible brush"),
        ("teal and gold palette", "gold & teal palette"),
        ("warm golden light", "golden warm light"),
        ("off-centre framing", "off-center framing"),
        ("  Golden  light. ", "golden light"),
    ],
)
def test_spellings_of_one_attribute_share_a_key(one: str, other: str) -> None:
    assert merge_key(one) == merge_key(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [("light blue", "blue light"), ("glass", "gla"), ("lens flare", "len flare")],
)
def test_different_attributes_keep_different_keys(one: str, other: str) -> None:
    assert merge_key(one) != merge_key(other)


def test_words_ending_in_s_that_are_not_plurals_stay() -> None:
    assert [singular(w) for w in ("lens", "glass", "chaos", "darkness", "focus")] == [
        "lens",
        "glass",
        "chaos",
        "darkness",
        "focus",
    ]


def test_british_and_american_spellings_merge_into_one_attribute() -> None:
    first, _ = merge_drafts(
        "u1", [], [AttributeDraft(text="muted colours", category=Category.COLOR, polarity=LIKE)]
    )
    merged, _ = merge_drafts(
        "u1",
        first,
        [AttributeDraft(text="Muted colors", category=Category.COLOR, polarity=LIKE, strength=0.9)],
    )
    assert len(merged) == 1 and merged[0].id == first[0].id
    assert merged[0].strength == 0.9
    # The opposite polarity under the other spelling supersedes it: still one attribute.
    again, _ = merge_drafts("u1", merged, [AttributeDraft(text="muted colour", polarity=DISLIKE)])
    assert [(a.text, a.polarity) for a in again] == [("muted colour", DISLIKE)]
