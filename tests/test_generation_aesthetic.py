"""Aesthetic embedding and aesthetic gradients: the shared encoder is never changed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from generation.aesthetic import (
    compute_aesthetic_embedding,
    load_a1111_embedding,
    save_a1111_embedding,
)
from generation.aesthetic_gradients import AestheticTuner, tunable_parameter_names
from generation.errors import AestheticEmbeddingError, ClipMismatchError
from generation.generator import PersonalizedGenerator
from generation.settings import GenerationSettings
from preference_store.models import Profile


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_bit_identical(module: torch.nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = module.state_dict()
    assert after.keys() == before.keys()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed == [], f"shared encoder changed: {changed[:3]}"
    assert all(p.grad is None for p in module.parameters())
    assert not any(p.requires_grad for p in module.parameters())


def target() -> torch.Tensor:
    return torch.randn(32, generator=torch.Generator().manual_seed(11))


@pytest.fixture()
def tuner(tiny_pipeline, tiny_clip_bundle) -> AestheticTuner:
    return AestheticTuner(
        tiny_pipeline.text_encoder, tiny_pipeline.tokenizer, tiny_clip_bundle.projection
    )


def test_steps_raise_similarity_and_leave_the_encoder_bit_identical(tuner) -> None:
    before = snapshot(tuner.text_encoder)
    start = tuner.similarity("a lighthouse at dusk", target())
    overrides, similarities = tuner.tune("a lighthouse at dusk", target(), steps=5, lr=1e-4)
    assert len(similarities) == 5 and similarities[0] == pytest.approx(start, abs=1e-5)
    assert tuner.similarity("a lighthouse at dusk", target(), overrides) > start
    assert_bit_identical(tuner.text_encoder, before)
    # The override holds new tensors; none of them is the shared encoder's storage.
    params = dict(tuner.text_encoder.named_parameters())
    assert all(t.data_ptr() != params[n].data_ptr() for n, t in overrides.items())


def test_encoder_is_bit_identical_after_a_failure_half_way(tuner) -> None:
    before = snapshot(tuner.text_encoder)

    def fail_at_third(step: int, _similarity: float) -> None:
        if step == 2:
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        tuner.tune("a lighthouse", target(), steps=5, lr=1e-4, on_step=fail_at_third)
    assert_bit_identical(tuner.text_encoder, before)


def test_encoder_is_bit_identical_after_a_failure_inside_the_forward(tuner) -> None:
    """A failure while the tuned tensors are swapped in must still restore the encoder."""
    before = snapshot(tuner.text_encoder)
    start = tuner.similarity("a lighthouse", target())
    calls = {"n": 0}
    layer = next(m for n, m in tuner.text_encoder.named_modules() if n.endswith("layers.1"))

    def explode(*_args: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("out of memory, say")

    handle = layer.register_forward_pre_hook(explode)
    try:
        with pytest.raises(RuntimeError, match="out of memory"):
            tuner.tune("a lighthouse", target(), steps=5, lr=1e-4)
    finally:
        handle.remove()
    assert calls["n"] == 3
    assert_bit_identical(tuner.text_encoder, before)
    # And the encoder still computes what it computed before.
    assert tuner.similarity("a lighthouse", target()) == start


def test_full_generations_leave_every_shared_component_bit_identical(
    tiny_pipeline, tiny_clip_bundle
) -> None:
    components = {
        name: module
        for name, module in tiny_pipeline.components.items()
        if isinstance(module, torch.nn.Module)
    }
    before = {name: snapshot(m) for name, m in components.items()}
    generator = PersonalizedGenerator(tiny_pipeline, clip=tiny_clip_bundle)
    profile = Profile(
        user_id="bob", version=3, aesthetic_embeddings={"tiny-clip": target().tolist()}
    )
    settings = GenerationSettings(steps=2, width=64, height=64, seed=1, aesthetic_steps=5)
    for mode in ("embeds", "guidance"):
        generator("a lighthouse", profile, settings=settings.updated(mode=mode))
    for name, module in components.items():
        assert_bit_identical(module, before[name])
    assert tiny_pipeline.unet.__class__.__name__ == "UNet2DConditionModel"


def test_subset_tuning_touches_only_the_last_layers(tiny_sd) -> None:
    names = tunable_parameter_names(tiny_sd.text_encoder, layers=2)
    assert names and all(
        ".layers.3." in n or ".layers.4." in n or "final_layer_norm" in n for n in names
    )
    assert not any("embeddings" in n for n in tunable_parameter_names(tiny_sd.text_encoder))


def test_mismatched_embedding_or_clip_is_a_clear_error(tuner, tiny_sd) -> None:
    with pytest.raises(AestheticEmbeddingError, match="needs 32"):
        tuner.tune("a lighthouse", torch.ones(768), steps=1, lr=1e-4)
    with pytest.raises(AestheticEmbeddingError, match="not finite"):
        tuner.tune("a lighthouse", torch.full((32,), float("nan")), steps=1, lr=1e-4)
    with pytest.raises(ClipMismatchError, match="matches the pipeline"):
        AestheticTuner(tiny_sd.text_encoder, tiny_sd.tokenizer, torch.nn.Linear(768, 32))


def solid(rgb: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (48, 40), rgb)


def test_aesthetic_embedding_is_the_weighted_mean_of_liked_images(tiny_clip_bundle) -> None:
    teal, gold = solid((0, 128, 128)), solid((212, 175, 55))
    features = tiny_clip_bundle.image_features([teal, gold])
    embedding = compute_aesthetic_embedding(tiny_clip_bundle, [(teal, 1.0), (gold, 0.25)])
    expected = torch.nn.functional.normalize(features[0] * 1.0 + features[1] * 0.25, dim=0)
    torch.testing.assert_close(embedding, expected)
    assert float(embedding.norm()) == pytest.approx(1.0)
    # Subtracting a share of the disliked images moves the embedding away from them.
    away = compute_aesthetic_embedding(
        tiny_clip_bundle, [(teal, 1.0)], [(gold, 1.0)], disliked_share=0.5
    )
    plain = compute_aesthetic_embedding(tiny_clip_bundle, [(teal, 1.0)])
    assert float(away @ features[1]) < float(plain @ features[1])
    with pytest.raises(AestheticEmbeddingError, match="at least one liked image"):
        compute_aesthetic_embedding(tiny_clip_bundle, [])


def test_a1111_embedding_round_trip_and_bad_files(tmp_path: Path) -> None:
    vector = target()
    path = tmp_path / "alice.pt"
    save_a1111_embedding(vector, path)
    raw = torch.load(path, weights_only=True)
    assert raw.shape == (1, 32)  # the A1111 aesthetic-gradients layout
    loaded = load_a1111_embedding(path, expected_dim=32)
    torch.testing.assert_close(loaded, vector / vector.norm())
    with pytest.raises(AestheticEmbeddingError, match="needs 768"):
        load_a1111_embedding(path, expected_dim=768)
    (tmp_path / "junk.pt").write_bytes(b"not a tensor")
    with pytest.raises(AestheticEmbeddingError, match="not an aesthetic embedding"):
        load_a1111_embedding(tmp_path / "junk.pt")
    torch.save({"a": torch.ones(3)}, tmp_path / "dict.pt")
    with pytest.raises(AestheticEmbeddingError, match=r"\[1, D\]"):
        load_a1111_embedding(tmp_path / "dict.pt")
    with pytest.raises(AestheticEmbeddingError, match="no aesthetic embedding file"):
        load_a1111_embedding(tmp_path / "missing.pt")
    assert np.isfinite(loaded.numpy()).all()
