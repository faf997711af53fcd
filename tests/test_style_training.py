"""Textual inversion on the tiny SD 1.x and SDXL pipelines: it learns, touches nothing shared."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from generation.errors import InvalidGenerationRequest
from generation.style_training import (
    TrainingConfig,
    TrainingImage,
    choose_init_word,
    initial_vectors,
    probe_loss,
    train_style_token,
)
from preference_store.models import Category, Polarity, Profile, VisualAttribute


def red_images(count: int = 3) -> list[TrainingImage]:
    rng = np.random.default_rng(0)
    base = np.ones((80, 64, 3)) * [200, 40, 40]
    return [
        TrainingImage(
            Image.fromarray((base + rng.normal(0, 10, base.shape)).clip(0, 255).astype("uint8"))
        )
        for _ in range(count)
    ]


def snapshot(pipe) -> dict[str, torch.Tensor]:
    encoders = [pipe.text_encoder] + (
        [pipe.text_encoder_2] if hasattr(pipe, "text_encoder_2") else []
    )
    return {
        f"{i}.{name}": value.clone()
        for i, encoder in enumerate(encoders)
        for name, value in encoder.state_dict().items()
    }


def assert_untouched(pipe, before: dict[str, torch.Tensor], vocab: int) -> None:
    after = snapshot(pipe)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before), "shared encoder changed"
    assert len(pipe.tokenizer) == vocab
    assert all(not p.requires_grad for p in pipe.text_encoder.parameters())


def test_training_lowers_the_loss_and_only_the_new_rows_change(tiny_pipeline) -> None:
    images = red_images()
    before, vocab = snapshot(tiny_pipeline), len(tiny_pipeline.tokenizer)
    steps: list[tuple[int, float]] = []
    result = train_style_token(
        tiny_pipeline,
        images,
        config=TrainingConfig(steps=60, lr=5e-2),
        progress=lambda step, loss: steps.append((step, loss)),
    )
    start = initial_vectors(tiny_pipeline, "style", 1)
    assert probe_loss(tiny_pipeline, images, result.vectors) < probe_loss(
        tiny_pipeline, images, start
    )
    assert [s for s, _ in steps] == list(range(1, 61)) and result.steps == 60
    sdxl = hasattr(tiny_pipeline, "text_encoder_2")
    assert set(result.vectors) == ({"clip_l", "clip_g"} if sdxl else {"clip_l"})
    for key, vectors in result.vectors.items():
        assert vectors.shape == (1, 32)
        assert not torch.equal(vectors, start[key]), f"{key} did not learn"
    assert_untouched(tiny_pipeline, before, vocab)


def test_cancellation_keeps_the_last_vectors_and_the_shared_encoder(tiny_sd) -> None:
    before, vocab = snapshot(tiny_sd), len(tiny_sd.tokenizer)
    done: list[int] = []
    result = train_style_token(
        tiny_sd,
        red_images(),
        config=TrainingConfig(steps=50, vectors=2),
        progress=lambda step, _loss: done.append(step),
        should_stop=lambda: len(done) >= 4,
    )
    assert result.cancelled and result.steps == 4 and len(result.losses) == 4
    assert result.vectors["clip_l"].shape == (2, 32)
    assert_untouched(tiny_sd, before, vocab)


def test_an_exception_mid_training_leaves_the_shared_encoder_bit_identical(tiny_sdxl) -> None:
    before, vocab = snapshot(tiny_sdxl), len(tiny_sdxl.tokenizer)

    def explode(step: int, _loss: float) -> None:
        if step == 3:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        train_style_token(
            tiny_sdxl, red_images(), config=TrainingConfig(steps=20), progress=explode
        )
    assert_untouched(tiny_sdxl, before, vocab)
    # and the pipeline still encodes as before: no hook is left active
    from generation.encoding import PipelineTextEncoder

    again = PipelineTextEncoder(tiny_sdxl).encode("a cat")
    assert torch.isfinite(again.hidden).all()


def test_early_stopping_on_a_plateau(tiny_sd) -> None:
    result = train_style_token(
        tiny_sd,
        red_images(),
        config=TrainingConfig(
            steps=400, lr=1e-6, plateau_window=10, min_steps=20, plateau_patience=2
        ),
    )
    assert result.stopped_early and result.steps < 400
    assert "plateau" in result.notes[-1]


@pytest.mark.parametrize(
    ("count", "config", "message"),
    [
        (0, TrainingConfig(), "1 to 100 images, got 0"),
        (1000, TrainingConfig(), "got 1000"),
        (3, TrainingConfig(steps=0), "steps must be between"),
        (3, TrainingConfig(steps=100_000), "steps must be between"),
        (3, TrainingConfig(vectors=0), "vectors must be between"),
    ],
)
def test_bad_input_is_refused_before_any_work(tiny_sd, count, config, message) -> None:
    images = [TrainingImage(Image.new("RGB", (8, 8)))] * count
    with pytest.raises(InvalidGenerationRequest, match=message):
        train_style_token(tiny_sd, images, config=config)


def test_init_word_comes_from_the_strongest_liked_style_attribute(tiny_tokenizer) -> None:
    def attr(text: str, strength: float, category=Category.COLOR, polarity=Polarity.LIKE):
        return VisualAttribute(
            user_id="alice", text=text, strength=strength, category=category, polarity=polarity
        )

    profile = Profile(
        user_id="alice",
        attributes=[
            attr("teal palette", 0.6),
            attr("watercolor", 0.9, Category.MEDIUM),
            attr("cats", 1.0, Category.SUBJECT),
            attr("neon", 1.0, polarity=Polarity.DISLIKE),
        ],
    )
    assert choose_init_word(profile, tiny_tokenizer) == "watercolor"
    assert choose_init_word(None, tiny_tokenizer) == "style"


def test_image_files_are_decoded_reduced_one_at_a_time_when_training(tiny_sd, tmp_path) -> None:
    from generation.style_library import reaction_images
    from preference_store.models import ImageReaction

    reactions = []
    for i in range(3):  # 1600×1200: 5.8 MB each decoded whole; the training size is 64
        path = tmp_path / f"large{i}.{'jpg' if i else 'png'}"
        Image.new("RGB", (1600, 1200), (200, 40 * i, 40)).save(path)
        reactions.append(ImageReaction(image_id=f"large{i}", path=str(path)))
    images = reaction_images(reactions)
    assert not any(isinstance(item.image, Image.Image) for item in images)  # none held decoded
    for item in images:
        opened = item.load(64)
        assert 64 <= min(opened.size) < 128 and opened.mode == "RGB", opened.size
    result = train_style_token(tiny_sd, images, config=TrainingConfig(steps=2))
    assert result.steps == 2
