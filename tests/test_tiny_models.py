"""The tiny doubles behave like the real components they stand in for."""

from __future__ import annotations

import numpy as np
import torch

from generation.tiny import TINY_VOCAB_SIZE, TinyClip, build_tiny_sd, build_tiny_tokenizer


def test_tokenizer_is_built_in_memory_with_a_real_vocabulary() -> None:
    tokenizer = build_tiny_tokenizer()
    assert len(tokenizer) == TINY_VOCAB_SIZE
    assert tokenizer.model_max_length == 77
    ids = tokenizer("a lighthouse at dusk", padding="max_length", max_length=77).input_ids
    assert len(ids) == 77
    assert ids[0] == tokenizer.bos_token_id and tokenizer.eos_token_id in ids
    # Common art words are whole tokens, unknown words split into pieces, as with CLIP's BPE.
    assert len(tokenizer.tokenize("lighthouse")) <= 2
    assert len(tokenizer.tokenize("xylophone")) > 3


def test_sd_text_encoder_is_the_tiny_clip_text_tower(tiny_sd, tiny_clip: TinyClip) -> None:
    clip_tower = tiny_clip.model.text_model.state_dict()
    encoder = {
        k.removeprefix("text_model."): v for k, v in tiny_sd.text_encoder.state_dict().items()
    }
    assert clip_tower.keys() == encoder.keys()
    assert all(torch.equal(clip_tower[k], encoder[k]) for k in clip_tower)
    assert tiny_clip.model.text_projection.in_features == tiny_sd.text_encoder.config.hidden_size


def test_sdxl_first_encoder_matches_clip_and_second_has_projection(tiny_sdxl, tiny_clip) -> None:
    first = tiny_sdxl.text_encoder.state_dict()
    tower = tiny_clip.model.text_model.state_dict()
    assert all(torch.equal(tower[k.removeprefix("text_model.")], v) for k, v in first.items())
    assert tiny_sdxl.text_encoder_2.config.projection_dim == 32
    assert tiny_sdxl.unet.config.cross_attention_dim == 64  # both encoders, concatenated


def test_pipelines_render_deterministically(tiny_sd, tiny_sdxl) -> None:
    for pipe in (tiny_sd, tiny_sdxl):
        images = [
            pipe(
                "a lighthouse",
                num_inference_steps=2,
                height=64,
                width=64,
                generator=torch.Generator().manual_seed(1),
                output_type="np",
            ).images
            for _ in range(2)
        ]
        assert images[0].shape == (1, 64, 64, 3)
        np.testing.assert_array_equal(images[0], images[1])


def test_builders_are_seeded() -> None:
    first, second = build_tiny_sd(seed=3), build_tiny_sd(seed=3)
    for a, b in zip(first.unet.parameters(), second.unet.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not any(p.requires_grad for p in first.unet.parameters())


def test_loading_in_two_threads_at_once_gives_real_weights() -> None:
    """The service loads CLIP (taste features) and MiniLM (search) in request threads while its
    worker loads the pipeline: loading patches torch process-wide for a moment, so without one
    load at a time a model came back with weights on the meta device (CLIP: 3 of 3 runs here
    without the lock; MiniLM: seen in CI, rarer here)."""
    import threading

    from generation.loading import load_clip, load_models
    from preference_store.embeddings import SentenceTransformerEmbedder, packaged_minilm_path

    problems: list[str] = []

    def pipelines() -> None:
        for _ in range(3):
            load_models("tiny")

    def clips() -> None:
        for _ in range(10):
            bundle = load_clip("tiny-clip")
            if any(p.is_meta for p in bundle.model.parameters()):
                problems.append("a CLIP model with meta weights")

    def text_models() -> None:  # the service's MiniLM, loaded at a request's first search
        for _ in range(3):
            try:
                SentenceTransformerEmbedder(packaged_minilm_path())
            except NotImplementedError as error:  # "Cannot copy out of meta tensor"
                problems.append(str(error))

    threads = [threading.Thread(target=f) for f in (pipelines, clips, text_models)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not problems
