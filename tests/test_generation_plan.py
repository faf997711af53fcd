"""The conditioning plan: selection, order, conflicts, the 77-token window and provenance."""

from __future__ import annotations

import pytest

from generation.plan import ConditioningPlan, plan_conditioning, token_counter
from preference_store.models import Category, Polarity, VisualAttribute

WORDS = [
    "teal",
    "gold",
    "misty",
    "soft",
    "grainy",
    "flowing",
    "bold",
    "warm",
    "glossy",
    "matte",
    "ornate",
    "quiet",
]
NOUNS = [
    "palette",
    "light",
    "lines",
    "texture",
    "shadows",
    "brushwork",
    "tones",
    "edges",
    "haze",
    "glow",
]


def attr(text: str, polarity: str = "like", strength: float = 0.7, category: str = "other"):
    return VisualAttribute(
        user_id="alice",
        text=text,
        polarity=Polarity(polarity),
        category=Category(category),
        strength=strength,
    )


@pytest.fixture()
def count(tiny_tokenizer):
    return token_counter(tiny_tokenizer)


def test_two_hundred_attributes_fit_the_window_and_all_are_accounted_for(count, tiny_tokenizer):
    attributes = [
        attr(
            f"{WORDS[i % 12]} {NOUNS[i // 12 % 10]} {i}",
            "like" if i % 3 else "dislike",
            strength=(i % 10 + 1) / 10,
        )
        for i in range(200)
    ]
    plan = plan_conditioning("a lighthouse at dusk", attributes, count_tokens=count)
    for text, tokens in (
        (plan.positive_text, plan.positive_tokens),
        (plan.negative_text, plan.negative_tokens),
    ):
        ids = tiny_tokenizer(text, truncation=False).input_ids
        assert len(ids) <= 77, "the joined list must fit CLIP's window with its markers"
        assert tokens == len(ids) - 2
        assert tokens > 60, "the window is used, not left mostly empty"
    # Provenance: every attribute appears exactly once, used or dropped with a reason.
    assert sorted(d.attribute_id for d in plan.decisions) == sorted(a.id for a in attributes)
    assert all(d.reason for d in plan.decisions)
    assert {d.text for d in plan.used if d.polarity is Polarity.LIKE} == set(
        plan.positive_text.split(", ")
    )
    assert any("no room" in d.reason for d in plan.dropped)
    # The strongest attributes are the ones that got in.
    used = [d.strength for d in plan.used if d.polarity is Polarity.LIKE]
    dropped = [d.strength for d in plan.dropped if d.polarity is Polarity.LIKE]
    assert min(used) >= max(dropped) - 0.2


def test_prompt_wins_over_a_contradicting_liked_attribute(count) -> None:
    vivid = attr("vivid colours", strength=0.9, category="color")
    lines = attr("flowing lines", strength=0.6, category="composition")
    plan = plan_conditioning(
        "black and white photo of a harbour", [vivid, lines], count_tokens=count
    )
    assert plan.positive_text == "flowing lines"
    (dropped,) = plan.dropped
    assert dropped.attribute_id == vivid.id
    assert "contradicts the prompt" in dropped.reason and "black and white" in dropped.reason


def test_disliked_attribute_the_prompt_asks_for_is_not_pushed_away(count) -> None:
    clutter = attr("cluttered composition", "dislike", 0.8, "composition")
    dark = attr("dark shadows", "dislike", 0.7, "lighting")
    plan = plan_conditioning("a busy cluttered market", [clutter, dark], count_tokens=count)
    assert plan.negative_text == "dark shadows"
    assert "prompt asks for it" in plan.dropped[0].reason


def test_ambiguous_subject_and_duplicate_attributes_are_dropped_with_reasons(count) -> None:
    attributes = [
        attr("neon glow", "like"),
        attr("Neon glow", "dislike"),
        attr("cats", "like", category="subject"),
        attr("soft light", "like"),
        attr("soft  light", "like"),
        attr("grainy texture", "like", strength=0.0),
    ]
    plan = plan_conditioning("a street at night", attributes, count_tokens=count)
    reasons = {d.text: d.reason for d in plan.dropped}
    assert plan.positive_text == "soft light"
    assert "both liked and disliked" in reasons["neon glow"]
    assert "both liked and disliked" in reasons["Neon glow"]
    assert "subject matter" in reasons["cats"]
    assert "duplicate" in reasons["soft light"]
    assert "strength 0" in reasons["grainy texture"]


def test_relevance_to_the_prompt_moves_an_attribute_ahead(count) -> None:
    strong = attr("teal palette", strength=0.8)
    relevant = attr("misty harbour light", strength=0.6)
    plan = plan_conditioning("a misty harbour at dawn", [strong, relevant], count_tokens=count)
    assert plan.positive_text == "misty harbour light, teal palette"
    assert plan.used[0].relevance > plan.used[1].relevance == 0


def test_empty_profile_gives_an_empty_plan(count) -> None:
    plan = plan_conditioning("a lighthouse", [], count_tokens=count)
    assert isinstance(plan, ConditioningPlan)
    assert plan.positive_text == plan.negative_text == "" and plan.decisions == []


def test_sdxl_counts_with_both_tokenizers(tiny_sdxl) -> None:
    count = token_counter(tiny_sdxl.tokenizer, tiny_sdxl.tokenizer_2)
    assert count("teal palette") == len(tiny_sdxl.tokenizer.tokenize("teal palette"))
