"""The conditioning plan: selection, order, conflicts, the chunk budget and provenance."""

from __future__ import annotations

import pytest

from generation.encoding import PipelineTextEncoder
from generation.plan import ConditioningPlan, plan_conditioning, token_counter
from generation.prompt_syntax import MAX_CHUNKS, attribute_weight, weighted
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


def test_two_hundred_attributes_fill_the_chunk_budget_and_all_are_accounted_for(tiny_sd) -> None:
    text = PipelineTextEncoder(tiny_sd)
    attributes = [
        attr(
            f"{WORDS[i % 12]} {NOUNS[i // 12 % 10]} {i}",
            "like" if i % 3 else "dislike",
            strength=(i % 10 + 1) / 10,
        )
        for i in range(200)
    ]
    plan = plan_conditioning(
        "a lighthouse at dusk",
        attributes,
        count_tokens=token_counter(tiny_sd.tokenizer),
        count_chunks=text.count_chunks,
    )
    for key, weighted_list in (
        ("positive", plan.positive_weighted),
        ("negative", plan.negative_weighted),
    ):
        assert plan.chunks[key] == MAX_CHUNKS == text.count_chunks(weighted_list)
        assert text.encode(weighted_list).hidden.shape[1] == 77 * MAX_CHUNKS
    assert plan.positive_tokens > (MAX_CHUNKS - 1) * 75, "the budget is used, not left empty"
    # Provenance: every attribute appears exactly once, used or dropped with a reason.
    assert sorted(d.attribute_id for d in plan.decisions) == sorted(a.id for a in attributes)
    assert all(d.reason for d in plan.decisions)
    liked = [d for d in plan.used if d.polarity is Polarity.LIKE]
    assert {d.text for d in liked} == set(plan.positive_text.split(", "))
    assert {weighted(d.text, d.weight) for d in liked} == set(plan.positive_weighted.split(", "))
    dropped = [d for d in plan.dropped if "no room" in d.reason]
    assert dropped and all(f"{MAX_CHUNKS}-chunk budget" in d.reason for d in dropped)
    # The strongest attributes are the ones that got in.
    used = [d.strength for d in liked]
    assert min(used) >= max(d.strength for d in dropped if d.polarity is Polarity.LIKE) - 0.2


def test_a_profile_of_two_hundred_tokens_keeps_every_attribute(tiny_sd) -> None:
    """About 200 tokens of liked attributes: nothing is dropped for room, and VP+ is encoded
    in three chunks exactly as compel's chunked encoding of the same text."""
    text = PipelineTextEncoder(tiny_sd)
    attributes = [attr(f"{WORDS[i % 12]} {NOUNS[i % 10]} {i}", strength=0.02) for i in range(27)]
    plan = plan_conditioning(
        "a lighthouse",
        attributes,
        count_tokens=token_counter(tiny_sd.tokenizer),
        count_chunks=text.count_chunks,
    )
    assert 190 < plan.positive_tokens <= 225 and plan.chunks["positive"] == 3
    assert len(plan.used) == 27 and not plan.dropped and not plan.cut
    assert plan.positive_weighted == plan.positive_text  # strength 0.02 is weight 1.0
    assert "(" not in plan.positive_weighted


def test_a_prompt_over_the_budget_is_cut_and_the_plan_says_so(tiny_sd) -> None:
    text = PipelineTextEncoder(tiny_sd)
    long = ", ".join(f"{WORDS[i % 12]} {NOUNS[i % 10]}" for i in range(120))
    plan = plan_conditioning(
        long,
        [],
        count_tokens=token_counter(tiny_sd.tokenizer),
        count_chunks=text.count_chunks,
        negative_prompt="blurry",
    )
    assert plan.chunks["prompt"] > MAX_CHUNKS and plan.chunks["negative_prompt"] == 1
    assert plan.cut == [
        f"prompt: {plan.chunks['prompt']} chunks, only the first {MAX_CHUNKS} "
        f"({MAX_CHUNKS} × 75 tokens) are read"
    ]
    assert text.encode(long).hidden.shape[1] == 77 * MAX_CHUNKS


def test_strength_becomes_the_attribute_weight(count) -> None:
    strong, weak = attr("teal palette", strength=1.0), attr("soft light", strength=0.0)
    neutral = attr("grainy texture", strength=0.5)
    plan = plan_conditioning("a harbour", [strong, weak, neutral], count_tokens=count)
    assert plan.positive_weighted == "(teal palette:1.2), (grainy texture:1.1)"
    assert [d.reason for d in plan.dropped] == ["strength 0"]
    assert attribute_weight(0.7) == 1.14 and attribute_weight(0.0) == 1.0


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
