"""Style references through the IP-Adapter (issue 23) on tiny SD 1.x and SDXL with their tiny
adapters: scale 0 is the image without references, modes differ, batches do not mix."""

from __future__ import annotations

import io
from pathlib import Path

import chromadb
import numpy as np
import pytest
import torch
from chromadb.config import Settings as ChromaSettings
from PIL import Image

from generation.batched import BatchItem, generate_batch
from generation.errors import InvalidGenerationRequest
from generation.generator import GenerationResult, PersonalizedGenerator
from generation.loading import LoadedModels, load_models
from generation.settings import GenerationSettings
from generation.style_refs import MAX_REQUEST_REFERENCES, ReferenceEmbedder, StyleReferences
from preference_store.models import Category, ImageReaction, Polarity, Profile, VisualAttribute
from preference_store.reference_cache import ReferenceCache

TOLERANCE = 2 / 255


def settings(**changes: object) -> GenerationSettings:
    base = {"steps": 3, "width": 64, "height": 64, "seed": 5, "aesthetic_steps": 0}
    return GenerationSettings.checked(**{**base, **changes})


def png(color: tuple[int, int, int], size: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, "PNG")
    return buffer.getvalue()


def person(user_id: str) -> Profile:
    liked = VisualAttribute(
        user_id=user_id, text="teal palette", polarity=Polarity.LIKE, category=Category.COLOR
    )
    return Profile(user_id=user_id, version=1, attributes=[liked])


@pytest.fixture(scope="module", params=["tiny", "tiny-sdxl"])
def models(request: pytest.FixtureRequest) -> LoadedModels:
    return load_models(request.param)


@pytest.fixture(scope="module")
def generator(models: LoadedModels) -> PersonalizedGenerator:
    return PersonalizedGenerator(
        models.pipeline, model_name=models.name, style_adapter=models.adapter
    )


@pytest.fixture(scope="module")
def refs(models: LoadedModels) -> tuple[StyleReferences, StyleReferences]:
    assert models.adapter is not None
    embedder = ReferenceEmbedder(models.adapter)
    warm = embedder.request_set([("warm.png", png((240, 120, 10)))])
    cold = embedder.request_set([("a.png", png((10, 30, 250))), ("b.png", png((0, 200, 200)))])
    return warm, cold


def image(generator: PersonalizedGenerator, *items: BatchItem) -> list[np.ndarray]:
    outcomes = generate_batch(generator, list(items), output_type="np")
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
    return [np.asarray(o.images[0]) for o in outcomes if isinstance(o, GenerationResult)]


def test_scale_zero_is_the_image_of_a_pipeline_without_any_adapter(
    models: LoadedModels, generator: PersonalizedGenerator, refs: tuple[StyleReferences, ...]
) -> None:
    bare = load_models(models.name, ip_adapter="none")
    assert bare.adapter is None
    plain = image(PersonalizedGenerator(bare.pipeline), BatchItem("a cat", person("a"), settings()))
    off = image(
        generator,
        BatchItem("a cat", person("a"), settings(style_ref_scale=0.0), references=refs[0]),
    )
    without = image(generator, BatchItem("a cat", person("a"), settings()))
    assert np.array_equal(off[0], plain[0])
    assert np.array_equal(without[0], plain[0])


def test_scale_and_mode_change_the_image(
    generator: PersonalizedGenerator, refs: tuple[StyleReferences, ...]
) -> None:
    def make(**changes: object) -> np.ndarray:
        item = BatchItem("a cat", person("a"), settings(**changes), references=refs[0])
        return image(generator, item)[0]

    plain = image(generator, BatchItem("a cat", person("a"), settings()))[0]
    style = make()
    full = make(style_ref_mode="full")
    layout = make(style_ref_mode="style+layout")
    stronger = make(style_ref_scale=1.5)
    assert np.abs(style - plain).max() > 0.01
    assert np.abs(full - style).max() > 0.01
    assert np.abs(layout - style).max() > 0.01
    assert np.abs(stronger - style).max() > 0.01


def test_a_batch_keeps_each_request_its_own_references(
    generator: PersonalizedGenerator, refs: tuple[StyleReferences, ...]
) -> None:
    """Different references, scales and modes in one batch: no grouping by scale or mode."""
    warm, cold = refs
    strong_full = settings(seed=2, style_ref_mode="full", style_ref_scale=1.2)
    alone_plain = image(generator, BatchItem("a harbour", person("p"), settings(seed=1)))[0]
    alone_warm = image(
        generator, BatchItem("a fox", person("w"), settings(seed=2), references=warm)
    )[0]
    alone_cold = image(
        generator,
        BatchItem("a fox", person("c"), strong_full, references=cold),
    )[0]
    batch = image(
        generator,
        BatchItem("a harbour", person("p"), settings(seed=1)),
        BatchItem("a fox", person("w"), settings(seed=2), references=warm),
        BatchItem("a fox", person("c"), strong_full, references=cold),
    )
    assert np.abs(batch[0] - alone_plain).max() <= TOLERANCE
    assert np.abs(batch[1] - alone_warm).max() <= TOLERANCE
    assert np.abs(batch[2] - alone_cold).max() <= TOLERANCE
    assert np.abs(batch[1] - batch[2]).max() > 0.01  # same prompt and seed: only the refs differ


def test_guidance_mode_and_a_cancelled_row_with_references(
    generator: PersonalizedGenerator, refs: tuple[StyleReferences, ...]
) -> None:
    guided = settings(mode="guidance", seed=3)
    alone = image(generator, BatchItem("a fox", person("w"), guided, references=refs[0]))[0]

    def cancel(done: int, _total: int) -> None:
        if done == 1:
            raise RuntimeError("cancelled")

    outcomes = generate_batch(
        generator,
        [
            BatchItem("a fox", person("x"), guided, references=refs[1], on_step=cancel),
            BatchItem("a fox", person("w"), guided, references=refs[0]),
        ],
        output_type="np",
    )
    assert isinstance(outcomes[0], RuntimeError)
    assert isinstance(outcomes[1], GenerationResult)
    assert np.abs(np.asarray(outcomes[1].images[0]) - alone).max() <= TOLERANCE


def test_the_result_and_png_metadata_name_the_references(
    generator: PersonalizedGenerator, refs: tuple[StyleReferences, ...]
) -> None:
    (result,) = generate_batch(
        generator, [BatchItem("a fox", person("w"), settings(), references=refs[1])]
    )
    assert isinstance(result, GenerationResult)
    assert result.style_refs is not None
    assert result.style_refs["images"] == ["a.png", "b.png"]
    assert result.style_refs["adapter"] == "tiny-ip-adapter"
    assert (result.style_refs["scale"], result.style_refs["mode"]) == (0.6, "style")
    assert '"a.png"' in result.metadata()["tastemaker:style_refs"]


def test_other_unet_callers_see_the_unet_without_the_adapter(models: LoadedModels) -> None:
    """Style-token training and PALP call the UNet with text only: the same output as before."""
    bare = load_models(models.name, ip_adapter="none")
    unet, plain_unet = models.pipeline.unet, bare.pipeline.unet
    sample = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    text = torch.randn(1, 77, unet.config.cross_attention_dim)
    extra = {}
    if models.name == "tiny-sdxl":
        extra = {
            "added_cond_kwargs": {"text_embeds": torch.zeros(1, 32), "time_ids": torch.zeros(1, 6)}
        }
    with torch.no_grad():
        got = unet(sample, 10, text, **extra).sample
        want = plain_unet(sample, 10, text, **extra).sample
    assert torch.equal(got, want)


def bomb() -> bytes:
    """A PNG whose header declares 30000 × 30000 pixels (a few KB of zeros)."""
    buffer = io.BytesIO()
    Image.new("1", (30000, 30000)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.png", b"just some text", "reference notes.png: not an image"),
        ("cut.png", png((1, 2, 3), 256)[:300], "reference cut.png: damaged or truncated"),
        ("bomb.png", bomb(), "bomb.png: too large: 30000×30000"),
    ],
)
def test_bad_reference_files_are_one_line_errors_and_nothing_is_cached(
    models: LoadedModels, tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    assert models.adapter is not None
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    embedder = ReferenceEmbedder(models.adapter, ReferenceCache(client))
    with pytest.raises(InvalidGenerationRequest) as caught:
        embedder.request_set([("good.png", png((9, 9, 9))), (name, data)])
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert embedder.memory == {}
    assert not [c for c in client.list_collections() if c.count()]


def test_too_many_reference_files_are_refused_before_any_is_read(models: LoadedModels) -> None:
    assert models.adapter is not None
    embedder = ReferenceEmbedder(models.adapter)
    many = [(f"{i}.png", b"") for i in range(10_000)]
    with pytest.raises(InvalidGenerationRequest, match=f"at most {MAX_REQUEST_REFERENCES}"):
        embedder.request_set(many)
    assert embedder.memory == {}


def test_embeddings_are_cached_by_content_and_the_profile_set_per_version(
    models: LoadedModels, tmp_path: Path
) -> None:
    assert models.adapter is not None
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    files = []
    for i, (color, weight) in enumerate(
        [((250, 0, 0), 0.3), ((0, 250, 0), 1.0), ((0, 0, 250), 0.6)]
    ):
        path = tmp_path / f"liked-{i}.png"
        path.write_bytes(png(color))
        files.append(ImageReaction(image_id=f"img-{i}", weight=weight, path=str(path)))
    files += [ImageReaction(image_id=f"more-{i}", weight=0.1, path=files[0].path) for i in range(3)]
    profile = Profile(user_id="alice", version=3, liked_images=files)

    first = ReferenceEmbedder(models.adapter, ReferenceCache(client)).profile_set(profile)
    assert first is not None
    assert first.sources == ("img-1", "img-2", "img-0", "more-0")  # strongest first, at most 4

    for file in files:  # the set is read back from the cache, not from the files
        Path(str(file.path)).unlink(missing_ok=True)
    again = ReferenceEmbedder(models.adapter, ReferenceCache(client)).profile_set(profile)
    assert again is not None and again.sources == first.sources
    assert torch.allclose(again.embedding, first.embedding, atol=1e-5)

    one = ReferenceEmbedder(models.adapter, ReferenceCache(client))
    data = png((250, 0, 0))
    direct = one.embed([("x.png", data)])
    calls: list[int] = []
    original = models.adapter.embed
    try:
        models.adapter.embed = lambda images: calls.append(len(images)) or original(images)  # type: ignore[method-assign]
        cached = ReferenceEmbedder(models.adapter, ReferenceCache(client)).embed([("y.png", data)])
    finally:
        models.adapter.embed = original  # type: ignore[method-assign]
    assert calls == []  # the same bytes under another name: no encoder pass
    assert torch.allclose(cached, direct, atol=1e-5)


def test_references_combine_with_vipers_guidance_a_style_token_and_aesthetic_gradients(
    models: LoadedModels, refs: tuple[StyleReferences, ...]
) -> None:
    """Every personalization at once, batched with a request that has none of them."""
    from generation.encoding import PipelineTextEncoder
    from generation.style_inject import encoder_keys
    from generation.style_token import StyleToken

    generator = PersonalizedGenerator(
        models.pipeline, clip=models.clip, model_name=models.name, style_adapter=models.adapter
    )
    keys = encoder_keys(PipelineTextEncoder(models.pipeline).encoders)
    noise = torch.Generator().manual_seed(4)
    token = StyleToken("t", "<alice>", {k: torch.randn(1, 32, generator=noise) for k in keys})
    embedding = torch.nn.functional.normalize(torch.randn(32, generator=noise), dim=0)
    everything = settings(mode="guidance", aesthetic_steps=2)

    def alice(references: StyleReferences | None) -> BatchItem:
        return BatchItem(
            "a fox",
            person("alice"),
            everything,
            aesthetic_embedding=embedding,
            style=token,
            references=references,
        )

    without = image(generator, alice(None))[0]
    bob = BatchItem("a harbour", person("bob"), settings(seed=9, mode="guidance"))
    plain = image(generator, bob)[0]
    together = image(generator, alice(refs[0]), bob)
    alone = image(generator, alice(refs[0]))[0]
    assert np.abs(together[0] - alone).max() <= TOLERANCE
    assert np.abs(together[1] - plain).max() <= TOLERANCE
    assert np.abs(alone - without).max() > 0.01


def test_an_adapter_file_and_encoder_folder_from_the_settings_load_like_the_built_in_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TASTEMAKER_IP_ADAPTER as a local .safetensors file (the hub layout: image_proj.* and
    ip_adapter.* keys) with TASTEMAKER_IP_ADAPTER_IMAGE_ENCODER as a folder."""
    from safetensors.torch import save_file

    from api.settings import Settings
    from api.wiring.generation import open_generator, open_models
    from generation.errors import ModelNotFoundError
    from generation.tiny import build_tiny_sd
    from generation.tiny_ip_adapter import build_tiny_image_encoder, tiny_ip_adapter_state_dict

    state = tiny_ip_adapter_state_dict(build_tiny_sd().unet)
    flat = {f"{part}.{k}": v.contiguous() for part, d in state.items() for k, v in d.items()}
    save_file(flat, str(tmp_path / "ip-adapter_tiny.safetensors"))
    encoder, _ = build_tiny_image_encoder()
    encoder.save_pretrained(tmp_path / "image_encoder")
    monkeypatch.setenv("TASTEMAKER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TASTEMAKER_IP_ADAPTER", str(tmp_path / "ip-adapter_tiny.safetensors"))
    monkeypatch.setenv("TASTEMAKER_IP_ADAPTER_IMAGE_ENCODER", str(tmp_path / "image_encoder"))
    models = open_models(Settings(), model="tiny")
    assert models.adapter is not None and models.adapter.name.endswith(
        "ip-adapter_tiny.safetensors"
    )
    built_in = load_models("tiny")
    assert built_in.adapter is not None
    data = [("x.png", png((200, 100, 0)))]
    from_file = ReferenceEmbedder(models.adapter).request_set(data)
    from_code = ReferenceEmbedder(built_in.adapter).request_set(data)
    assert torch.allclose(from_file.embedding, from_code.embedding)
    mine = image(
        open_generator(models), BatchItem("a cat", person("a"), settings(), references=from_file)
    )
    theirs = image(
        PersonalizedGenerator(built_in.pipeline, style_adapter=built_in.adapter),
        BatchItem("a cat", person("a"), settings(), references=from_code),
    )
    assert np.abs(mine[0] - theirs[0]).max() <= TOLERANCE

    monkeypatch.setenv("TASTEMAKER_IP_ADAPTER", "nobody/nothing")
    with pytest.raises(ModelNotFoundError, match="weight file"):
        open_models(Settings(), model="tiny")
