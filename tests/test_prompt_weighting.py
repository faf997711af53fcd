"""A1111 prompt weighting and long prompts (issue 28, item 2) on tiny SD 1.x and SDXL."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generation.aesthetic_gradients import AestheticTuner
from generation.batched import BatchItem, generate_batch
from generation.encoding import PipelineTextEncoder
from generation.generator import PersonalizedGenerator
from generation.prompt_syntax import MAX_CHUNKS, is_weighted, parse, plain_text, weighted
from generation.settings import GenerationSettings
from generation.style_inject import encoder_keys
from generation.style_token import StyleToken
from preference_store.models import Category, Polarity, Profile, VisualAttribute

FAST = GenerationSettings(steps=2, width=64, height=64, seed=5, aesthetic_steps=0)
LONG = ", ".join(f"quiet harbour {i} at dusk" for i in range(14))  # 171 tokens: 3 chunks


def positions(tokenizer, before: str, word: str) -> list[int]:
    """Where ``word``'s tokens sit in ``before + word`` (after the start marker)."""
    start = 1 + len(tokenizer(before, add_special_tokens=False).input_ids) if before else 1
    count = len(tokenizer(word, add_special_tokens=False).input_ids)
    return list(range(start, start + count))


def differing(a: torch.Tensor, b: torch.Tensor) -> list[int]:
    return [int(i) for i in torch.nonzero((a - b).abs().amax(-1)[0] > 1e-6).flatten()]


# -- the syntax ----------------------------------------------------------------------------------


def test_a1111_syntax_reads_into_weighted_fragments() -> None:
    assert parse("a (cat:1.3) on a mat") == [[("a ", 1.0), ("cat", 1.3), (" on a mat", 1.0)]]
    assert parse("a (cat:1.0) on a mat") == parse("a cat on a mat") == [[("a cat on a mat", 1.0)]]
    assert parse("(cat)") == [[("cat", 1.1)]] and parse("((cat))") == [[("cat", 1.21)]]
    assert parse("[cat]") == [[("cat", round(1 / 1.1, 6))]]
    assert parse(r"a \(cat\) b") == [[("a (cat) b", 1.0)]]
    assert parse("one BREAK two") == [[("one", 1.0)], [("two", 1.0)]]
    assert parse("a) b, time: 3pm") == [[("a) b, time: 3pm", 1.0)]]  # stray syntax is text
    assert parse("unclosed (a") == [[("unclosed ", 1.0), ("a", 1.1)]]
    assert plain_text("x (a [b] c:1.5) BREAK y") == "x a b c y"
    assert is_weighted("(a:1.2)") and is_weighted("a BREAK b") and not is_weighted("(a:1)")
    assert weighted("soft (x)", 1.08) == r"(soft \(x\):1.08)" and weighted("a", 1.0) == "a"
    assert parse(weighted("soft (x)", 1.08)) == [[("soft (x)", 1.08)]]


# -- the encoding --------------------------------------------------------------------------------


def test_a_weight_changes_the_embedding_exactly_at_its_words(tiny_pipeline) -> None:
    text = PipelineTextEncoder(tiny_pipeline)
    plain = text.encode("a lighthouse at dusk")
    heavy = text.encode("a (lighthouse:1.3) at dusk")
    assert differing(heavy.hidden, plain.hidden) == positions(
        tiny_pipeline.tokenizer, "a", "lighthouse"
    )
    if plain.pooled is not None:  # SDXL: the pooled embedding is the words', unweighted
        torch.testing.assert_close(heavy.pooled, plain.pooled, rtol=0, atol=0)
    same = text.encode("a (lighthouse:1.0) at dusk")
    torch.testing.assert_close(same.hidden, plain.hidden, rtol=0, atol=0)
    softer = text.encode("a [lighthouse] at dusk")
    assert differing(softer.hidden, plain.hidden) and differing(softer.hidden, heavy.hidden)


def test_an_unweighted_short_prompt_encodes_as_diffusers_does(tiny_pipeline) -> None:
    ours = PipelineTextEncoder(tiny_pipeline).encode("a lighthouse at dusk")
    theirs = tiny_pipeline.encode_prompt(
        "a lighthouse at dusk", device="cpu", num_images_per_prompt=1,
        do_classifier_free_guidance=False,
    )  # fmt: skip
    torch.testing.assert_close(ours.hidden, theirs[0], rtol=0, atol=0)


def test_break_starts_a_new_chunk(tiny_pipeline) -> None:
    text = PipelineTextEncoder(tiny_pipeline)
    both = text.encode("a lighthouse BREAK at dusk")
    assert both.hidden.shape[1] == 2 * 77
    torch.testing.assert_close(both.hidden[:, :77], text.encode("a lighthouse").hidden)
    torch.testing.assert_close(both.hidden[:, 77:], text.encode("at dusk").hidden)


def test_a_long_prompt_is_the_concatenation_of_its_75_token_chunks(tiny_sd) -> None:
    """An independent reference: split at the last comma within 75 tokens, encode each chunk
    with its own start/end markers, concatenate."""
    tokenizer, encoder = tiny_sd.tokenizer, tiny_sd.text_encoder
    ids = tokenizer(LONG, add_special_tokens=False).input_ids
    comma = tokenizer(",", add_special_tokens=False).input_ids[0]
    chunks: list[torch.Tensor] = []
    while ids:
        cut = len(ids) if len(ids) <= 75 else max(i for i in range(75) if ids[i] == comma) + 1
        body, ids = ids[:cut], ids[cut:]
        row = [tokenizer.bos_token_id, *body, tokenizer.eos_token_id]
        row += [tokenizer.pad_token_id] * (77 - len(row))
        with torch.no_grad():
            chunks.append(encoder(torch.tensor([row]))[0])
    expected = torch.cat(chunks, dim=1)
    assert expected.shape[1] == 3 * 77
    text = PipelineTextEncoder(tiny_sd)
    assert text.count_chunks(LONG) == 3
    torch.testing.assert_close(text.encode(LONG).hidden, expected, rtol=0, atol=1e-6)


def test_past_the_budget_only_the_first_chunks_are_read(tiny_sd) -> None:
    text = PipelineTextEncoder(tiny_sd)
    longer = f"{LONG}, {LONG}"
    assert text.count_chunks(longer) > MAX_CHUNKS
    cut = text.encode(longer).hidden
    assert cut.shape[1] == MAX_CHUNKS * 77


# -- through the generator -----------------------------------------------------------------------


def profile(count: int = 1) -> Profile:
    attributes = [
        VisualAttribute(
            user_id="alice",
            text=f"teal palette {i}" if count > 1 else "teal palette",
            polarity=Polarity.LIKE,
            category=Category.COLOR,
            strength=0.9,
        )
        for i in range(count)
    ]
    return Profile(user_id="alice", version=2, attributes=attributes)


def test_a1111_syntax_in_the_negative_prompt_weights_it(tiny_pipeline) -> None:
    generator = PersonalizedGenerator(tiny_pipeline, model_name="tiny")
    plain = generator("a lighthouse", profile(), settings=FAST, negative_prompt="blurry fog")
    heavy = generator("a lighthouse", profile(), settings=FAST, negative_prompt="(blurry:1.4) fog")
    key = generator.text.encode
    assert differing(key("(blurry:1.4) fog").hidden, key("blurry fog").hidden) == positions(
        tiny_pipeline.tokenizer, "", "blurry"
    )
    first, second = np.asarray(plain.images[0]), np.asarray(heavy.images[0])
    assert np.abs(first.astype(int) - second.astype(int)).max() > 0
    assert heavy.plan.negative_prompt == "(blurry:1.4) fog"


def test_a_long_profile_keeps_every_attribute_and_generates(tiny_pipeline) -> None:
    generator = PersonalizedGenerator(tiny_pipeline, model_name="tiny")
    result = generator("a lighthouse", profile(25), settings=FAST, output_type="np")
    assert len(result.plan.used) == 25 and not result.plan.dropped
    assert result.plan.chunks["positive"] >= 2 and result.images[0].shape == (64, 64, 3)
    key = (*generator._cache_key(profile(25), result.plan, FAST, None), None, None)
    conditioning = generator.cache.get(key)
    assert conditioning is not None
    width = 77 * result.plan.chunks["positive"]
    assert conditioning.prompt.hidden.shape[1] == conditioning.negative.hidden.shape[1] == width


def style(pipe, count: int = 2) -> StyleToken:
    gen = torch.Generator().manual_seed(3)
    keys = encoder_keys(PipelineTextEncoder(pipe).encoders)
    vectors = {key: torch.randn(count, 32, generator=gen) * 2.0 for key in keys}
    return StyleToken("tok", "<alice>", vectors, profile_version=2)


def test_the_style_token_and_weights_work_together(tiny_pipeline) -> None:
    text = PipelineTextEncoder(tiny_pipeline)
    token = style(tiny_pipeline)
    prompt = "a lighthouse, in the style of <style>"
    chunked = text.encode_with_style(prompt, token.vectors)
    window = text.encode_with_style(prompt, token.vectors, grad=True)  # training's own path
    torch.testing.assert_close(chunked.hidden, window.hidden, rtol=0, atol=1e-6)
    heavy = text.encode_with_style("a (lighthouse:1.3), in the style of <style>", token.vectors)
    assert differing(heavy.hidden, chunked.hidden) == positions(
        tiny_pipeline.tokenizer, "a", "lighthouse"
    )
    # A long prompt: the token lands in a later chunk and the first chunk does not see it.
    long = text.encode_with_style(f"{LONG}, in the style of <style>", token.vectors)
    bare = text.encode(f"{LONG}, in the style of *")
    assert long.hidden.shape == bare.hidden.shape and long.hidden.shape[1] >= 2 * 77
    torch.testing.assert_close(long.hidden[:, :77], bare.hidden[:, :77], rtol=0, atol=1e-6)
    assert differing(long.hidden[:, -77:], bare.hidden[:, -77:])
    # Past the budget the chunk with the token replaces the last one kept: it is never cut.
    over = text.encode_with_style(f"{LONG}, {LONG}, in the style of <style>", token.vectors)
    tail = text.encode_with_style("a lighthouse, in the style of <style>", token.vectors)
    assert over.hidden.shape[1] == MAX_CHUNKS * 77
    assert differing(over.hidden[:, -77:], text.encode(f"{LONG}, {LONG}").hidden[:, -77:])
    assert tail.hidden.shape[1] == 77
    # The prompt's own "*" stays a word: the placeholder is a symbol the text does not use.
    starred = text.encode_with_style("a * lighthouse, in the style of <style>", token.vectors)
    plain_star = text.encode("a * lighthouse, in the style of <style>")
    assert differing(starred.hidden, plain_star.hidden)[0] > 2
    generator = PersonalizedGenerator(tiny_pipeline, model_name="tiny")
    result = generator(
        "a (lighthouse:1.3)", profile(), settings=FAST, style=token, output_type="np"
    )
    assert result.plan.style_prompt == "a (lighthouse:1.3), in the style of <style>"


def test_aesthetic_gradients_tune_on_the_words_and_encode_the_weights(
    tiny_sd, tiny_clip_bundle
) -> None:
    tuner = AestheticTuner(tiny_sd.text_encoder, tiny_sd.tokenizer, tiny_clip_bundle.projection)
    aim = torch.randn(32, generator=torch.Generator().manual_seed(11))
    overrides, _ = tuner.tune("a (lighthouse:1.3) at dusk", aim, steps=2, lr=1e-3)
    same, _ = tuner.tune("a lighthouse at dusk", aim, steps=2, lr=1e-3)
    assert all(torch.equal(overrides[k], same[k]) for k in overrides)
    text = PipelineTextEncoder(tiny_sd)
    tuned = text.encode("a (lighthouse:1.3) at dusk", overrides=overrides)
    tuned_plain = text.encode("a lighthouse at dusk", overrides=overrides)
    assert differing(tuned.hidden, tuned_plain.hidden) == positions(
        tiny_sd.tokenizer, "a", "lighthouse"
    )
    assert differing(tuned_plain.hidden, text.encode("a lighthouse at dusk").hidden)


def test_requests_of_different_lengths_batch_in_separate_groups(tiny_sd) -> None:
    generator = PersonalizedGenerator(tiny_sd, model_name="tiny")
    requests = [
        BatchItem("a lighthouse", profile(), FAST),
        BatchItem(LONG, profile(), FAST.updated(seed=6)),
        BatchItem("a (fox:1.2) BREAK in snow", profile(), FAST.updated(seed=7)),
    ]
    outcomes = generate_batch(generator, requests, output_type="np")
    for request, outcome in zip(requests, outcomes, strict=True):
        assert not isinstance(outcome, Exception), outcome
        lone = generator(
            request.prompt, request.profile, settings=request.settings, output_type="np"
        )
        np.testing.assert_allclose(outcome.images[0], lone.images[0], atol=2 / 255)


@pytest.mark.parametrize("prompt", ["(", "a BREAK", "[[[x]]]", ":1.2)", "\\"])
def test_odd_syntax_still_generates(tiny_sd, prompt: str) -> None:
    generator = PersonalizedGenerator(tiny_sd, model_name="tiny")
    result = generator(prompt, profile(), settings=FAST, output_type="np")
    assert result.images[0].shape == (64, 64, 3)
