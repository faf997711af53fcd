"""The conditioning plan: which liked (VP+) and disliked (VP−) attributes go into the prompt.

Pure (no model): the caller passes token and chunk counters for the pipeline's tokenizer(s).
The plan chooses and orders attributes by strength and relevance to the prompt, drops those that
contradict the prompt (the prompt wins), writes each attribute with its strength as an A1111
weight, fits each list into ``MAX_CHUNKS`` 75-token chunks (encoded one after another, see
docs/design.md, "Prompt weighting and long prompts") and records why every attribute was used or
dropped, and what of the prompts the budget cuts.

ViPer shuffles attributes per prompt; with a budget we rank instead, so the attributes that
matter most for this prompt are the ones that fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

from pydantic import BaseModel, Field

from generation.conflicts import contradiction, stems
from generation.prompt_syntax import (
    CHUNK_TOKENS,
    MAX_CHUNKS,
    attribute_weight,
    plain_text,
    weighted,
)
from generation.tokenizing import tokenize
from preference_store.models import Category, Polarity, VisualAttribute

TokenCounter = Callable[[str], int]
"""Tokens a text takes between the start and end markers, with the pipeline's tokenizer(s)."""
ChunkCounter = Callable[[str], int]
"""77-token chunks a text in A1111 syntax takes when encoded (``PipelineTextEncoder``)."""

CLIP_WINDOW = 77
SEPARATOR = ", "
STYLE_PHRASE = ", in the style of "


class AttributeDecision(BaseModel):
    """One attribute of the profile and what the plan did with it."""

    attribute_id: str
    text: str
    polarity: Polarity
    category: Category
    strength: float
    relevance: float = Field(description="0..1, how much the attribute bears on this prompt.")
    priority: float = Field(description="strength × (1 + relevance); higher goes first.")
    tokens: int
    weight: float = Field(default=1.0, description="Its A1111 weight in VP+/VP−, from strength.")
    used: bool
    reason: str


class ConditioningPlan(BaseModel):
    """What will condition the image, and the provenance of every attribute considered."""

    prompt: str
    negative_prompt: str
    positive_text: str = Field(description="VP+: the liked attributes used, joined by ', '.")
    negative_text: str = Field(description="VP−: the disliked attributes used, joined by ', '.")
    positive_weighted: str = Field(
        default="", description="VP+ as encoded: each attribute (strength as its A1111 weight)."
    )
    negative_weighted: str = Field(default="", description="VP− as encoded, likewise.")
    token_window: int
    positive_tokens: int
    negative_tokens: int
    decisions: list[AttributeDecision]
    chunk_budget: int = Field(default=MAX_CHUNKS, description="75-token chunks read per text.")
    chunks: dict[str, int] = Field(
        default_factory=dict,
        description="Chunks each text takes (prompt, negative_prompt, positive, negative).",
    )
    cut: list[str] = Field(
        default_factory=list, description="What of the prompts the chunk budget leaves out."
    )
    style_prompt: str = Field(default="", description="The prompt with the learned token placed.")
    style_token: str = Field(default="", description="Which learned token, trained on what.")
    negative_style_prompt: str = ""
    negative_style_token: str = ""
    style_skipped: list[str] = Field(
        default_factory=list, description="Stored style tokens left out as unusable, and why."
    )
    blend: dict[str, float] = Field(
        default_factory=dict, description="A blend's profiles and their weights (sum 1)."
    )
    blend_notes: list[str] = Field(
        default_factory=list,
        description="How the blend decided attributes liked in one profile and disliked in "
        "another (by weight).",
    )

    @property
    def used(self) -> list[AttributeDecision]:
        return [d for d in self.decisions if d.used]

    @property
    def dropped(self) -> list[AttributeDecision]:
        return [d for d in self.decisions if not d.used]


def lexical_relevance(prompt: str, attribute: VisualAttribute) -> float:
    """Share of the attribute's content words the prompt also uses (0 when none)."""
    attribute_stems = stems(attribute.text)
    if not attribute_stems:
        return 0.0
    return len(attribute_stems & stems(prompt)) / len(attribute_stems)


def plan_conditioning(
    prompt: str,
    attributes: Iterable[VisualAttribute],
    *,
    count_tokens: TokenCounter,
    count_chunks: ChunkCounter | None = None,
    negative_prompt: str = "",
    token_window: int = CLIP_WINDOW,
    max_chunks: int = MAX_CHUNKS,
    relevance: Mapping[str, float] | None = None,
    include_subject: bool = False,
) -> ConditioningPlan:
    """Choose, order and fit the attributes; every attribute ends up used or dropped with a reason.

    ``count_chunks`` is the encoder's own count (it splits at commas); without it chunks are
    estimated from tokens. ``relevance`` (attribute id -> 0..1), e.g. from an embedding model,
    replaces the lexical estimate. Subject-matter attributes are left out unless
    ``include_subject``: ViPer conditions on artistic aspects, and a liked "cats" would put cats
    into every picture.
    """
    chunks_of = count_chunks or _estimate_chunks(count_tokens)
    decisions: list[AttributeDecision] = []
    candidates: dict[Polarity, list[AttributeDecision]] = {Polarity.LIKE: [], Polarity.DISLIKE: []}

    attribute_list = list(attributes)
    by_text: dict[str, set[Polarity]] = {}
    for attribute in attribute_list:
        by_text.setdefault(attribute.normalized_text, set()).add(attribute.polarity)
    seen: set[tuple[str, Polarity]] = set()

    for attribute in attribute_list:
        rel = relevance.get(attribute.id) if relevance is not None else None
        rel = lexical_relevance(prompt, attribute) if rel is None else min(max(rel, 0.0), 1.0)
        decision = AttributeDecision(
            attribute_id=attribute.id,
            text=attribute.text,
            polarity=attribute.polarity,
            category=attribute.category,
            strength=attribute.strength,
            relevance=round(rel, 4),
            priority=round(attribute.strength * (1.0 + rel), 6),
            tokens=count_tokens(attribute.text),
            weight=attribute_weight(attribute.strength),
            used=False,
            reason="",
        )
        key = (attribute.normalized_text, attribute.polarity)
        reason = None
        if len(by_text[attribute.normalized_text]) > 1:
            reason = "both liked and disliked: ambiguous, left out (as ViPer does)"
        elif key in seen:
            reason = "duplicate of an attribute already considered"
        elif attribute.strength <= 0.0:
            reason = "strength 0"
        elif attribute.category is Category.SUBJECT and not include_subject:
            reason = "subject matter, not a visual style: it would add that subject to every image"
        else:
            reason = contradiction(prompt, attribute.text, attribute.polarity, attribute.category)
            if reason is None and negative_prompt:
                reason = _negative_prompt_clash(negative_prompt, attribute)
        seen.add(key)
        if reason is not None:
            decisions.append(decision.model_copy(update={"reason": reason}))
        else:
            candidates[attribute.polarity].append(decision)

    texts: dict[Polarity, str] = {}
    weighted_texts: dict[Polarity, str] = {}
    totals: dict[Polarity, int] = {}
    chunks: dict[str, int] = {}
    for polarity, pool in candidates.items():
        pool.sort(key=lambda d: (-d.priority, -d.strength, d.text.casefold()))
        chosen: list[str] = []
        plain: list[str] = []
        used_chunks = 0
        for rank, decision in enumerate(pool, start=1):
            trial = SEPARATOR.join([*chosen, weighted(decision.text, decision.weight)])
            needed = chunks_of(trial)
            if needed <= max_chunks:
                chosen.append(weighted(decision.text, decision.weight))
                plain.append(decision.text)
                used_chunks = needed
                reason = f"used: rank {rank} by strength and relevance, weight {decision.weight:g}"
                decisions.append(decision.model_copy(update={"used": True, "reason": reason}))
            else:
                reason = (
                    f"no room: the {max_chunks}-chunk budget ({max_chunks} × {CHUNK_TOKENS} "
                    f"tokens) was full ({used_chunks} used, this would make {needed})"
                )
                decisions.append(decision.model_copy(update={"reason": reason}))
        texts[polarity] = SEPARATOR.join(plain)
        weighted_texts[polarity] = SEPARATOR.join(chosen)
        totals[polarity] = count_tokens(plain_text(weighted_texts[polarity])) if chosen else 0
        chunks["positive" if polarity is Polarity.LIKE else "negative"] = used_chunks

    cut: list[str] = []
    for name, text in (("prompt", prompt), ("negative_prompt", negative_prompt)):
        chunks[name] = chunks_of(text) if text else 0
        if chunks[name] > max_chunks:
            cut.append(
                f"{name.replace('_', ' ')}: {chunks[name]} chunks, only the first {max_chunks} "
                f"({max_chunks} × {CHUNK_TOKENS} tokens) are read"
            )

    order = {id(d): i for i, d in enumerate(decisions)}
    decisions.sort(key=lambda d: (not d.used, d.polarity.value, -d.priority, order[id(d)]))
    return ConditioningPlan(
        prompt=prompt,
        negative_prompt=negative_prompt,
        positive_text=texts[Polarity.LIKE],
        negative_text=texts[Polarity.DISLIKE],
        positive_weighted=weighted_texts[Polarity.LIKE],
        negative_weighted=weighted_texts[Polarity.DISLIKE],
        token_window=token_window,
        positive_tokens=totals[Polarity.LIKE],
        negative_tokens=totals[Polarity.DISLIKE],
        decisions=decisions,
        chunk_budget=max_chunks,
        chunks=chunks,
        cut=cut,
    )


def place_style(
    plan: ConditioningPlan,
    *,
    token: str | None,
    negative_token: str | None,
    marker: str,
) -> ConditioningPlan:
    """Where the learned tokens go: "<prompt>, in the style of <style>" and "<negative>, <neg>".

    A long prompt pushes the marker into a later chunk (it is read as long as the prompt fits
    the chunk budget); ``token``/``negative_token`` describe the tokens (None: not used).
    """
    update: dict[str, str] = {}
    if token:
        update["style_prompt"] = f"{plan.prompt}{STYLE_PHRASE}{marker}"
        update["style_token"] = token
    if negative_token:
        negative = plan.negative_prompt
        update["negative_style_prompt"] = f"{negative}{SEPARATOR}{marker}" if negative else marker
        update["negative_style_token"] = negative_token
    return plan.model_copy(update=update) if update else plan


def _negative_prompt_clash(negative_prompt: str, attribute: VisualAttribute) -> str | None:
    """A liked attribute the person's own negative prompt rules out yields to it."""
    if attribute.polarity is not Polarity.LIKE:
        return None
    attribute_stems = stems(attribute.text)
    if attribute_stems and attribute_stems <= stems(negative_prompt):
        return f"the negative prompt rules it out ('{negative_prompt}')"
    return None


def token_counter(*tokenizers: object) -> TokenCounter:
    """Count tokens with every tokenizer of a pipeline and keep the largest (SDXL has two)."""
    usable = [t for t in tokenizers if t is not None]
    if not usable:
        raise ValueError("a token counter needs at least one tokenizer")

    def count(text: str) -> int:
        if not text:
            return 0
        return max(len(tokenize(t, text, add_special_tokens=False).input_ids) for t in usable)

    return count


def _estimate_chunks(count_tokens: TokenCounter) -> ChunkCounter:
    """Chunks from tokens alone (no comma-aware split): for callers without an encoder."""

    def estimate(text: str) -> int:
        return max(1, math.ceil(count_tokens(plain_text(text)) / CHUNK_TOKENS))

    return estimate
