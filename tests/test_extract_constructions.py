"""Constructions the offline extractor misread on independently written comments (issue 8,
round 2, third pass). The sentences here are new: none is copied from a labelled set, so each
case checks the rule, not a memorised comment."""
# ruff: noqa: F811  (pytest fixtures imported from tests.test_agent_support)
# These test the reading itself: the polarity the reader gives a phrase, which is its guess when
# it is unsure (``trusting_extractor`` stores every guess). Whether the agent asks about a
# reading instead of storing it is tested in tests/test_asking.py.

from __future__ import annotations

import pytest

from agent.offline import OfflineExtractor
from preference_store.models import Polarity
from tests.test_agent_support import (
    attribute_pairs,
    trusting_extractor,  # noqa: F401  (fixture)
)

LIKE, DISLIKE = Polarity.LIKE, Polarity.DISLIKE


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        # a preference with no "than" is a wish: what is preferred is liked
        (
            "Not keen on the neon haze, I'd rather see soft moonlight.",
            {("neon haze", DISLIKE), ("soft moonlight", LIKE)},
        ),
        # "swap X for Y": a comparison, X is the rejected side
        (
            "I'd swap the sepia tone for plain black ink.",
            {("sepia tone", DISLIKE), ("plain black ink", LIKE)},
        ),
        # a relative clause with a verdict judges the clause before it, over its own words
        ("The brushwork is a bit scratchy, which I actually love.", {("scratchy brushwork", LIKE)}),
        # a pseudo-cleft: the verdict before the copula, not the praise inside the name
        ("What ruins it for me is the pretty gold frame.", {("gold frame", DISLIKE)}),
        # what a feature is compared to judges it
        ("The shapes are simple, it looks like clip art.", {("simple shapes", DISLIKE)}),
        # an eye roll marks sarcasm
        (
            "yeah, exactly the thing this portrait lacked, more glow on the skin 🙄",
            {("glow", DISLIKE)},
        ),
        # a plain describing word toned down is a mild complaint
        ("The horizon seems a little high.", {("high horizon", DISLIKE)}),
        # praise through a noun is a verdict, not part of the name
        ("The rim light is a masterstroke.", {("rim light", LIKE)}),
        # a judged feature the vocabulary lacks is still a feature
        ("The french knots are gorgeous.", {("french knots", LIKE)}),
        # how subject matter is drawn is a feature; the subject matter alone is not
        ("The tiny boats in the distance are lovely.", {("tiny boats", LIKE)}),
        ("The boats are lovely.", set()),
        # someone else's opinion is not the person's
        ("My friend says the palette is too gloomy.", set()),
    ],
)
def test_construction(
    trusting_extractor: OfflineExtractor, comment: str, expected: set[tuple[str, Polarity]]
) -> None:
    assert attribute_pairs(trusting_extractor, comment) == set(expected)


def test_a_wish_over_a_negated_state_dislikes_it(trusting_extractor: OfflineExtractor) -> None:
    [shadows] = trusting_extractor.extract("I wish the shadows weren't so muddy.").attributes
    assert "shadows" in shadows.text and shadows.polarity is DISLIKE


def test_a_simile_clause_is_not_a_liking(trusting_extractor: OfflineExtractor) -> None:
    # ", like the perspective slipped": "like" compares here; nothing in it is liked
    pairs = attribute_pairs(
        trusting_extractor, "The floor tiles look wonky, like the perspective slipped."
    )
    assert all(polarity is DISLIKE for _, polarity in pairs)
    # ", like blue plastic" contradicts a neutral reading of "solid": left out, never liked
    pairs = attribute_pairs(trusting_extractor, "The lake looks almost solid, like blue plastic.")
    assert all(polarity is DISLIKE for _, polarity in pairs)


def test_liking_something_more_if_it_changed_is_no_liking_of_it(
    trusting_extractor: OfflineExtractor,
) -> None:
    pairs = attribute_pairs(trusting_extractor, "I'd like the wheat field more if it were sharper.")
    assert all("field" not in text or polarity is DISLIKE for text, polarity in pairs)


def test_sarcasm_carries_into_a_sentence_that_says_too(
    trusting_extractor: OfflineExtractor,
) -> None:
    comment = "Ah yes, giant heads, truly the style of our time. Love the floating plants too."
    assert all(p is DISLIKE for _, p in attribute_pairs(trusting_extractor, comment))


def test_a_comparison_verdict_is_not_carried_into_the_next_clause(
    trusting_extractor: OfflineExtractor,
) -> None:
    comment = "I'd swap the sepia tone for plain black ink though, sepia looks fake-old to me."
    pairs = attribute_pairs(trusting_extractor, comment)
    assert ("sepia", LIKE) not in pairs and ("plain black ink", LIKE) in pairs


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        # "X would suit it more than Y": a comparison
        (
            "Watercolour would suit this far more than the glossy render.",
            {("watercolour", LIKE), ("glossy render", DISLIKE)},
        ),
        # praise of the making, with the feature after "in"
        ("Real craft in the linework.", {("linework", LIKE)}),
        # a filler is not part of a name
        ("love the grain ngl", {("grain", LIKE)}),
        # "zero X" is a "no X"
        ("Zero lens flare please.", {("lens flare", DISLIKE)}),
    ],
)
def test_construction_second_pass(
    trusting_extractor: OfflineExtractor, comment: str, expected: set[tuple[str, Polarity]]
) -> None:
    assert attribute_pairs(trusting_extractor, comment) == set(expected)


def test_a_want_makes_what_follows_a_complaint(trusting_extractor: OfflineExtractor) -> None:
    # "not saturated enough" likes saturation; the next clause goes on complaining
    comment = "The greens aren't saturated enough, the moss looks greyish."
    pairs = attribute_pairs(trusting_extractor, comment)
    assert ("saturated greens", LIKE) in pairs
    assert all(p is DISLIKE for text, p in pairs if "moss" in text)


def test_a_toned_down_word_is_a_complaint_even_when_it_sounds_like_praise(
    trusting_extractor: OfflineExtractor,
) -> None:
    assert attribute_pairs(trusting_extractor, "The rim light seems a touch strong.") == {
        ("strong rim light", DISLIKE)
    }
    # praise outright stays praise
    assert attribute_pairs(trusting_extractor, "The rim light is lovely.") == {("rim light", LIKE)}


def test_a_verb_after_a_name_is_not_part_of_it(trusting_extractor: OfflineExtractor) -> None:
    texts = {
        text
        for text, _ in attribute_pairs(trusting_extractor, "I love how the warm light comes in.")
    }
    assert texts == {"warm light"}


def test_a_bare_sarcastic_remark_takes_back_the_exclamation_before_it(
    trusting_extractor: OfflineExtractor,
) -> None:
    comment = "Love how every surface is glossy and wet. So realistic. Said no one."
    assert all(p is DISLIKE for _, p in attribute_pairs(trusting_extractor, comment))
