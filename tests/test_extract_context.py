"""Offline extraction on long, real-world comments (issue 8, third session): context is not a
feature, a discourse "though" opens no contrast, comparisons name both sides, and a target whose
verdict its clause does not decide is left out rather than guessed. Each case failed before."""
# ruff: noqa: F811  (pytest fixtures imported from tests.test_agent_support)
# These test the reading itself: the polarity the reader gives a phrase, which is its guess when
# it is unsure (``trusting_extractor`` stores every guess). Whether the agent asks about a
# reading instead of storing it is tested in tests/test_asking.py.

from __future__ import annotations

import pytest

from agent.extraction import ImageContext, ImageTag
from agent.offline import OfflineExtractor
from agent.offline.pairing import find_runs
from agent.offline.segment import clauses
from agent.offline.tokens import Labeller
from preference_store.models import Category, Polarity
from tests.test_agent_support import (
    attribute_pairs,
    trusting_extractor,  # noqa: F401  (fixture)
)

LIKE, DISLIKE = Polarity.LIKE, Polarity.DISLIKE


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        # a place that is not itself visual: the predicate pairs with the feature before it
        ("The candlelight on the fruit is so warm.", {("warm candlelight", LIKE)}),
        ("The trees on the left are a bit blurry.", {("blurry trees", DISLIKE)}),
        # the object of a simile or a memory is not a feature
        ("I love the chunky pixels, they remind me of old games.", {("chunky pixels", LIKE)}),
        ("Would work as a poster, perfect for a morning.", set()),
        # "suits" praises its subject; what it suits is context
        (
            "The illustrations feel warm and cosy, which suits a bedtime story.",
            {("warm cosy illustrations", LIKE)},
        ),
        # "though" as an adverb opens no contrast
        ("The fisheye warp though is distracting.", {("fisheye warp", DISLIKE)}),
        ("I'm less sure about the lens flare though, it looks cheap.", {("lens flare", DISLIKE)}),
        # comparisons: "prefer X to Y", "X works better than Y", "rather X than that Y"
        (
            "I prefer the warm brown leather to the shiny chrome.",
            {("warm brown leather", LIKE), ("shiny chrome", DISLIKE)},
        ),
        (
            "The warm light is stronger than the cold flash.",
            {("warm light", LIKE), ("cold flash", DISLIKE)},
        ),
        (
            "I'd rather have a flat blue sky than that peach gradient.",
            {("flat blue sky", LIKE), ("peach gradient", DISLIKE)},
        ),
        # "less into" is a dislike
        ("I'm less into the lens flare.", {("lens flare", DISLIKE)}),
        # a bare "Not." takes the praise back
        ("Love how the horizon is tilted. Not.", {("tilted horizon", DISLIKE)}),
        # an elliptical negation in the next scope says the opposite (kept working)
        (
            "The moody atmosphere works for me; the harsh shadows don't.",
            {("moody atmosphere", LIKE), ("harsh shadows", DISLIKE)},
        ),
        # praise through nouns and idioms; "shame about" is a dislike
        ("That ultramarine sea is an absolute triumph.", {("ultramarine sea", LIKE)}),
        (
            "Lovely soft bokeh, shame about the blown-out sky.",
            {("soft bokeh", LIKE), ("blown-out sky", DISLIKE)},
        ),
        ("The dark moody background is exactly right.", {("dark moody background", LIKE)}),
        ("The wonky horizon also drives me up the wall.", {("wonky horizon", DISLIKE)}),
        # after a name, "of ..." elaborates; elongated words are read ("sooo")
        ("The limited palette of teal and gold is a real treat.", {("limited palette", LIKE)}),
        ("Her outline looks sooo wobbly.", {("wobbly outline", DISLIKE)}),
        # a habit contradicted in the same sentence; the side named as what it is not
        (
            "I'm normally into film grain but this is too heavy, it looks like noise rather "
            "than texture.",
            set(),
        ),
        # a describing word after "<verdict> and" belongs to the feature judged
        ("Those deep blues are gorgeous and so calming.", {("deep blues", LIKE)}),
        # "nothing about X works" negates; "don't mind", "can't get enough of", "has to go"
        ("Nothing about the harsh spotlight works for me.", {("harsh spotlight", DISLIKE)}),
        (
            "I don't mind the grain, but the vignette has to go.",
            {("grain", LIKE), ("vignette", DISLIKE)},
        ),
        ("I can't get enough of the soft pastel clouds.", {("soft pastel clouds", LIKE)}),
        # a negated expectation is not a negated liking; "X, not Y"
        ("I wasn't expecting to like the harsh shadows, but I do.", {("harsh shadows", LIKE)}),
        ("I didn't think I'd like the neon thread.", {("neon thread", LIKE)}),
        # a past preference ("used to") is the opposite of the present one
        ("I used to hate pastel palettes, now I love them.", {("pastel palettes", LIKE)}),
        # ... but a present "don't think" negates what it governs; "not against" is a yes
        ("I don't think the grain works.", {("grain", DISLIKE)}),
        ("I don't think I like the pink.", {("pink", DISLIKE)}),
        ("I'm not against the flat style.", {("flat style", LIKE)}),
        (
            "Big fan of the loose ink lines, not of the neon palette.",
            {("loose ink lines", LIKE), ("neon palette", DISLIKE)},
        ),
        ("The wide angle distortion is a dealbreaker.", {("wide angle distortion", DISLIKE)}),
        ("The vignette isn't needed.", {("vignette", DISLIKE)}),
        ("The gritty texture is exactly what I wanted.", {("gritty texture", LIKE)}),
        ("The grain adds a lot of charm.", {("grain", LIKE)}),
        ("The harsh midday light really makes it.", {("harsh midday light", LIKE)}),
        ("The noisy grain is what sells it for me.", {("noisy grain", LIKE)}),
        # comparisons with "pick ... over", "beats" after a noun-like "look"; "compared to"
        (
            "I'd pick the pastel one over the high-contrast one.",
            {("pastel", LIKE), ("high-contrast", DISLIKE)},
        ),
        (
            "The sepia look beats the harsh black and white.",
            {("sepia", LIKE), ("harsh black and white", DISLIKE)},
        ),
        (
            "Compared to the first one, the lighting here is far softer and I like that.",
            {("far softer lighting", LIKE)},
        ),
        # sarcasm: mock praise before "another", a sarcastic remark after the target
        ("Lovely, another blurry background.", {("blurry background", DISLIKE)}),
        ("Great, more lens flare. Exactly what this needed.", {("lens flare", DISLIKE)}),
        ("Yeah, because everyone loves a tilted horizon.", {("tilted horizon", DISLIKE)}),
        # a bare "no complaints" is praise; "tone down X"; "next time" is not a name
        (
            "Soft focus, warm tones, no complaints.",
            {("soft focus", LIKE), ("warm tones", LIKE)},
        ),
        ("Please tone down the saturation.", {("saturation", DISLIKE)}),
        ("Less clutter next time.", {("clutter", DISLIKE)}),
        # "apart from X, <verdict>": X takes the opposite
        ("Apart from the harsh shadows, it's lovely.", {("harsh shadows", DISLIKE)}),
        ("Other than the muddy greens, I love it.", {("muddy greens", DISLIKE)}),
        # "is just X" dismisses X
        ("The rest is just beige on beige.", {("beige on beige", DISLIKE)}),
        # "sadly" points at what follows; a possessive is not part of the name
        ("Sadly their faces look melted.", {("melted faces", DISLIKE)}),
    ],
)
def test_context_and_scope(
    trusting_extractor: OfflineExtractor, comment: str, expected: set[tuple[str, Polarity]]
) -> None:
    assert attribute_pairs(trusting_extractor, comment) == expected


@pytest.mark.parametrize(
    "comment",
    [
        # "but it works" may praise the combination itself: no dislike from the contrast
        "The purple hills against the peach sky is a combo I wouldn't have picked, but it works.",
        # a loaded adjective inside a name is not the sentence's verdict
        "That harsh noon shadow is what makes the photo for me.",
    ],
)
def test_undecided_polarity_is_not_a_dislike(
    trusting_extractor: OfflineExtractor, comment: str
) -> None:
    assert all(a.polarity is LIKE for a in trusting_extractor.extract(comment).attributes)


def test_praise_in_a_name_is_not_the_verdict_of_its_unread_predicate(
    trusting_extractor: OfflineExtractor,
) -> None:
    # the praise "pretty" is part of the name; the verdict is the toned-down "a bit twee"
    [door] = trusting_extractor.extract("The pretty pastel door looks a bit twee.").attributes
    assert door.polarity is DISLIKE and "pastel door" in door.text
    # with no rule to read the predicate, no guess from the praise in the name
    assert trusting_extractor.extract("The pretty pastel door looks twee.").attributes == []


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        # a word right after a subject pronoun or a modal is a verb, not a feature
        ("I'll admit the sky has some nice swirly cloud shapes.", "swirly cloud shapes"),
        # one unknown word only loosely like a visual term is not a feature
        ("The teal is lovely, it got so dusty and damp, I love it.", "teal"),
        # a manner adverb, or a "-wise" one, is not part of a feature's name
        ("Colour-wise the warm sunset palette is lovely.", "warm sunset palette"),
        ("The studio lighting is technically clean.", "clean studio lighting"),
    ],
)
def test_verbs_and_adverbs_are_not_names(
    trusting_extractor: OfflineExtractor, comment: str, expected: str
) -> None:
    assert [a.text for a in trusting_extractor.extract(comment).attributes] == [expected]


def test_of_phrase_stays_one_feature() -> None:
    labeller = Labeller()
    runs = find_runs(labeller.label("the texture of the grapes"))
    assert [r.text for r in runs] == ["texture of grapes"]
    # a named visual feature "of" another stays two features
    runs = find_runs(labeller.label("the rhythm of the repeated wavy lines"))
    assert [r.text for r in runs] == ["rhythm", "repeated wavy lines"]


def test_adverbial_though_is_not_a_clause_boundary() -> None:
    found, _ = clauses("I'm less sure about the boats though, they look stiff.", Labeller())
    assert [c.after_contrast for c in found] == [False, False]


@pytest.mark.parametrize(
    ("comment", "text", "band"),
    [
        ("Way too much lens blur.", "lens blur", "strong"),  # "way too" is emphatic
        ("The rim light isn't bad.", "rim light", "weak"),  # litotes is a lukewarm yes
        ("I don't hate the pink.", "pink", "weak"),
        ("No complaints about the golden light.", "golden light", "weak"),
        ("I can't say I love the cropping.", "cropping", "medium"),  # a plain no
    ],
)
def test_strength_follows_emphasis_and_litotes(
    trusting_extractor: OfflineExtractor, comment: str, text: str, band: str
) -> None:
    [attribute] = trusting_extractor.extract(comment).attributes
    assert attribute.text == text
    strength = attribute.strength
    bands = {"weak": strength < 0.55, "medium": 0.55 <= strength < 0.85, "strong": strength >= 0.85}
    assert bands[band]


def test_a_wish_for_more_of_a_category_is_not_named_from_the_image(
    trusting_extractor: OfflineExtractor,
) -> None:
    image = ImageContext(tags=[ImageTag(text="muted greens", category=Category.COLOR)])
    result = trusting_extractor.extract("I would want a bit more colour.", image)
    assert result.attributes == []
    assert result.vague


def test_a_long_digression_is_not_a_bare_verdict(trusting_extractor: OfflineExtractor) -> None:
    # "Yes please." answers for the sentence before it; a memory that ends in "love" does not
    comment = (
        "The teal wash and the heavy grain. "
        "It reminds me of my grandmother's old kitchen, which I really love."
    )
    assert ("teal wash", LIKE) not in attribute_pairs(trusting_extractor, comment)
    short = "Stark shadows, deep blacks. Yes please."
    assert attribute_pairs(trusting_extractor, short) == {
        ("stark shadows", LIKE),
        ("deep blacks", LIKE),
    }
