"""LoRAs (issue 28, item 3) on the tiny SD 1.x and SDXL pipelines: tiny LoRA files built in code
(peft layers saved by diffusers, and the same in kohya's naming) change the image at weight 1 and
not at 0, never outlive their loop, never mix between requests, and a broken or hostile file is
one sentence of error with nothing changed."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from generation.batched import BatchItem, generate_batch
from generation.errors import InvalidGenerationRequest
from generation.generator import PersonalizedGenerator
from generation.lora_files import (
    LoraFileError,
    LoraLibrary,
    addnet_hash,
    inspect_lora,
)
from generation.lora_names import LoraWeight, take_prompt_loras
from generation.request import GenerationRequest
from generation.result import GenerationResult
from generation.settings import GenerationSettings
from generation.tiny_lora import build_tiny_lora
from preference_store.models import Category, Polarity, Profile, VisualAttribute

FAST = GenerationSettings(steps=2, width=64, height=64, seed=7, aesthetic_steps=0)
TOLERANCE = 2 / 255


def person(user_id: str, liked: str) -> Profile:
    attribute = VisualAttribute(
        user_id=user_id, text=liked, polarity=Polarity.LIKE, category=Category.COLOR, strength=0.8
    )
    return Profile(user_id=user_id, version=1, attributes=[attribute])


@pytest.fixture()
def generator(tiny_pipeline: Any) -> PersonalizedGenerator:
    return PersonalizedGenerator(tiny_pipeline, model_name="tiny")


@pytest.fixture(scope="module")
def lora_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny LoRAs for both families: UNet only and with the text encoder, in both formats."""
    folder = tmp_path_factory.mktemp("loras")
    for sdxl in (False, True):
        family = "xl" if sdxl else "sd"
        for fmt in ("diffusers", "kohya"):
            build_tiny_lora(folder / f"{family}-{fmt}.safetensors", sdxl=sdxl, fmt=fmt, seed=1)
        build_tiny_lora(folder / f"{family}-te.safetensors", sdxl=sdxl, seed=2, text_encoder=True)
        build_tiny_lora(folder / "more" / f"{family}-other.safetensors", sdxl=sdxl, seed=3)
    return folder


def family(generator: PersonalizedGenerator) -> str:
    return "xl" if generator.text.sdxl else "sd"


def render(
    generator: PersonalizedGenerator,
    library: LoraLibrary,
    loras: dict[str, float],
    *,
    profile: Profile | None = None,
    seed: int = 7,
    prompt: str = "a lighthouse at dusk",
) -> np.ndarray:
    settings = FAST.updated(seed=seed, loras=[{"name": n, "weight": w} for n, w in loras.items()])
    item = BatchItem(
        prompt,
        profile or person("alice", "teal palette"),
        settings,
        loras=library.resolve(settings.loras),
    )
    [outcome] = generate_batch(generator, [item], output_type="np")
    assert isinstance(outcome, GenerationResult), outcome
    return outcome.images[0]


def snapshot(pipeline: Any) -> dict[str, dict[str, torch.Tensor]]:
    parts = ("unet", "text_encoder", "text_encoder_2")
    return {
        part: {k: v.clone() for k, v in getattr(pipeline, part).state_dict().items()}
        for part in parts
        if getattr(pipeline, part, None) is not None
    }


def assert_untouched(pipeline: Any, before: dict[str, dict[str, torch.Tensor]]) -> None:
    after = snapshot(pipeline)
    for part, tensors in before.items():
        assert set(after[part]) == set(tensors), f"{part}'s layers changed"
        assert all(torch.equal(after[part][k], v) for k, v in tensors.items()), part
        assert not getattr(getattr(pipeline, part), "peft_config", None), part


@pytest.mark.parametrize("kind", ["diffusers", "kohya", "te"])
def test_a_lora_changes_the_image_at_weight_1_and_not_at_0(
    generator: PersonalizedGenerator, lora_dir: Path, kind: str
) -> None:
    library = LoraLibrary(lora_dir)
    name = f"{family(generator)}-{kind}"
    before = snapshot(generator.pipeline)
    plain = render(generator, library, {})
    full = render(generator, library, {name: 1.0})
    half = render(generator, library, {name: 0.5})
    off = render(generator, library, {name: 0.0})
    assert np.abs(full - plain).max() > 0.05, "the LoRA changes the image"
    assert np.abs(half - plain).max() > 0.01 and np.abs(half - full).max() > 0.01  # in between
    assert np.array_equal(off, plain), "weight 0 is the image without it, exactly"
    assert_untouched(generator.pipeline, before)
    assert np.array_equal(render(generator, library, {}), plain), "nothing stays behind"


def test_the_kohya_file_and_the_diffusers_file_of_one_lora_make_one_image(
    generator: PersonalizedGenerator, lora_dir: Path
) -> None:
    library = LoraLibrary(lora_dir)
    kohya = render(generator, library, {f"{family(generator)}-kohya": 1.0})
    ours = render(generator, library, {f"{family(generator)}-diffusers": 1.0})
    assert np.abs(kohya - ours).max() <= TOLERANCE


def test_a_text_encoder_lora_never_reaches_the_encoding_cache_of_others(
    generator: PersonalizedGenerator, lora_dir: Path
) -> None:
    """The per-text cache holds plain encodings: a LoRA on the encoder is kept out of it, and a
    LoRA image made warm equals one made cold."""
    library = LoraLibrary(lora_dir)
    name = f"{family(generator)}-te"
    plain = render(generator, library, {})
    warm = render(generator, library, {name: 1.0})
    assert np.array_equal(render(generator, library, {}), plain)
    generator.clear_caches()
    assert np.array_equal(render(generator, library, {name: 1.0}), warm)


def test_two_people_with_one_lora_set_share_a_batch_and_each_image_is_its_own(
    generator: PersonalizedGenerator, lora_dir: Path
) -> None:
    library = LoraLibrary(lora_dir)
    loras = {f"{family(generator)}-diffusers": 0.8, f"{family(generator)}-other": 0.6}
    settings = FAST.updated(loras=[{"name": n, "weight": w} for n, w in loras.items()])
    files = library.resolve(settings.loras)
    people = [(person("alice", "teal palette"), 11), (person("bob", "warm light"), 22)]
    items = [
        BatchItem("a fox in the snow", p, settings.updated(seed=s), loras=files) for p, s in people
    ]
    batched = generate_batch(generator, items, output_type="np")
    for (profile, seed), result in zip(people, batched, strict=True):
        assert isinstance(result, GenerationResult), result
        alone = render(
            generator, library, loras, profile=profile, seed=seed, prompt="a fox in the snow"
        )
        assert np.abs(result.images[0] - alone).max() <= TOLERANCE


def test_different_lora_sets_never_share_a_loop(
    generator: PersonalizedGenerator, lora_dir: Path
) -> None:
    """Two users' LoRAs: their requests' batch keys differ, and a batch that mixes them anyway
    is refused, leaving the pipeline as it was."""
    library = LoraLibrary(lora_dir)
    name = f"{family(generator)}-diffusers"
    mine = FAST.updated(loras=[{"name": name, "weight": 1.0}])
    theirs = FAST.updated(loras=[{"name": f"{family(generator)}-other", "weight": 1.0}])
    requests = [GenerationRequest(prompt="a fox", settings=s) for s in (mine, theirs, FAST)]
    assert len({r.batch_key() for r in requests}) == 3
    halved = GenerationRequest(
        prompt="a fox", settings=mine.updated(loras=[{"name": name, "weight": 0.5}])
    )
    assert halved.batch_key() != requests[0].batch_key()
    before = snapshot(generator.pipeline)
    items = [
        BatchItem("a fox", person("alice", "teal"), mine, loras=library.resolve(mine.loras)),
        BatchItem("a fox", person("bob", "gold"), theirs, loras=library.resolve(theirs.loras)),
    ]
    with pytest.raises(InvalidGenerationRequest, match="a batch needs one"):
        generate_batch(generator, items)
    assert_untouched(generator.pipeline, before)


def test_a_lora_named_without_its_file_fails_its_request(generator: PersonalizedGenerator) -> None:
    settings = FAST.updated(loras=[{"name": "somewhere", "weight": 1.0}])
    [outcome] = generate_batch(generator, [BatchItem("a fox", person("a", "teal"), settings)])
    assert isinstance(outcome, InvalidGenerationRequest)
    assert "somewhere" in str(outcome)


def test_a_lora_for_another_model_family_is_refused_and_changes_nothing(
    generator: PersonalizedGenerator, lora_dir: Path
) -> None:
    other = "sd-diffusers" if generator.text.sdxl else "xl-diffusers"
    before = snapshot(generator.pipeline)
    settings = FAST.updated(loras=[{"name": other, "weight": 1.0}])
    item = BatchItem(
        "a fox", person("a", "teal"), settings, loras=LoraLibrary(lora_dir).resolve(settings.loras)
    )
    [outcome] = generate_batch(generator, [item])
    assert isinstance(outcome, LoraFileError), outcome
    assert f"LoRA {other}" in str(outcome) and "\n" not in str(outcome)
    assert_untouched(generator.pipeline, before)


# -- files: found by name only, checked before loading -----------------------------------------


def write_safetensors(path: Path, header: dict[str, Any], data: bytes) -> Path:
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)
    return path


def nan_lora(path: Path) -> Path:
    from safetensors.torch import save_file

    down = torch.zeros(4, 32)
    down[0, 0] = float("nan")
    save_file(
        {"lora_unet_x.lora_down.weight": down, "lora_unet_x.lora_up.weight": torch.zeros(32, 4)},
        path,
    )
    return path


def put(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


HOSTILE = {
    "truncated": lambda p: put(p, (p.parent / "good.safetensors").read_bytes()[:300]),
    "garbage": lambda p: put(p, b"\x00" * 64),
    "huge-header": lambda p: put(p, struct.pack("<Q", 2**60) + b"{}"),
    "offsets-outside": lambda p: write_safetensors(
        p,
        {
            "lora_unet_x.lora_down.weight": {
                "dtype": "F32",
                "shape": [4, 4],
                "data_offsets": [0, 4096],
            }
        },
        b"\0" * 64,
    ),
    "checkpoint": lambda p: write_safetensors(
        p,
        {
            "model.diffusion_model.input_blocks.0.weight": {
                "dtype": "F32",
                "shape": [1],
                "data_offsets": [0, 4],
            }
        },
        b"\0" * 4,
    ),
    "integers": lambda p: write_safetensors(
        p,
        {"lora_unet_x.lora_down.weight": {"dtype": "I32", "shape": [1], "data_offsets": [0, 4]}},
        b"\0" * 4,
    ),
    "nan": nan_lora,
}
WORDS = {
    "truncated": "not a valid safetensors file",
    "garbage": "not a valid safetensors file",
    "huge-header": "not a valid safetensors file",
    "offsets-outside": "not a valid safetensors file",
    "checkpoint": "full model checkpoint",
    "integers": "floating point",
    "nan": "NaN",
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_broken_or_hostile_file_is_one_sentence_and_changes_nothing(
    tiny_sd: Any, tmp_path: Path, kind: str
) -> None:
    build_tiny_lora(tmp_path / "good.safetensors", seed=1)
    path = HOSTILE[kind](tmp_path / f"{kind}.safetensors")
    generator = PersonalizedGenerator(tiny_sd, model_name="tiny")
    before = snapshot(tiny_sd)
    settings = FAST.updated(loras=[{"name": kind, "weight": 1.0}])
    with pytest.raises(LoraFileError) as caught:
        files = LoraLibrary(tmp_path).resolve(settings.loras)
        [outcome] = generate_batch(
            generator, [BatchItem("a fox", person("a", "t"), settings, loras=files)]
        )
        raise outcome if isinstance(outcome, Exception) else AssertionError("it was used")
    message = str(caught.value)
    assert WORDS[kind] in message and kind in message and "\n" not in message, message
    assert path.exists()
    assert_untouched(tiny_sd, before)


def test_names_are_looked_up_in_the_folder_never_used_as_paths(
    lora_dir: Path, tmp_path: Path
) -> None:
    library = LoraLibrary(lora_dir, where="the test folder")
    assert library.find("sd-other").path == lora_dir / "more" / "sd-other.safetensors"
    assert {"sd-diffusers", "xl-te", "sd-other"} <= set(library.names())
    for name in ("../secret", "/etc/passwd", "more/sd-other", "a\\b", "..", "x..y"):
        with pytest.raises(InvalidGenerationRequest, match="LoRA name"):
            library.find(name)
    with pytest.raises(LoraFileError, match="no LoRA named 'nope' in the test folder"):
        library.find("nope")
    outside = tmp_path / "outside"
    outside.mkdir()
    build_tiny_lora(outside / "escape.safetensors")
    linked = tmp_path / "linked"
    linked.mkdir()
    os.symlink(outside / "escape.safetensors", linked / "escape.safetensors")
    with pytest.raises(LoraFileError, match="no LoRA named 'escape'"):
        LoraLibrary(linked).find("escape")  # a link out of the folder is not followed
    (lora_dir / "notes.pt").write_bytes(b"pickle")
    with pytest.raises(LoraFileError):
        library.find("notes")  # only .safetensors files are ever found


def test_a_file_over_the_size_cap_is_refused_before_it_is_read(lora_dir: Path) -> None:
    with pytest.raises(LoraFileError, match="at most 0 MB"):
        inspect_lora(lora_dir / "sd-diffusers.safetensors", max_bytes=10)


def test_the_hash_is_a1111s_the_sha256_of_the_tensor_data(lora_dir: Path, tmp_path: Path) -> None:
    """A1111 (and kohya's sd-scripts) hash a LoRA's bytes after the header, 12 hex digits in
    ``Lora hashes``; a ``sshs_model_hash`` the file carries is what A1111 shows instead."""
    import hashlib

    from safetensors.torch import load_file, save_file

    path = lora_dir / "sd-kohya.safetensors"
    raw = path.read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    expected = hashlib.sha256(raw[8 + length :]).hexdigest()
    assert addnet_hash(path) == expected
    assert inspect_lora(path).short_hash == expected[:12]
    tensors = load_file(path)
    save_file(tensors, tmp_path / "renamed.safetensors", metadata={"ss_output_name": "other"})
    assert inspect_lora(tmp_path / "renamed.safetensors").short_hash == expected[:12]
    own = "ab" * 32
    save_file(tensors, tmp_path / "own.safetensors", metadata={"sshs_model_hash": own})
    assert inspect_lora(tmp_path / "own.safetensors").short_hash == own[:12]


# -- <lora:name:weight> in a prompt -------------------------------------------------------------


def test_prompt_tags_are_taken_out_of_the_text_and_join_the_settings() -> None:
    text, found = take_prompt_loras("a fox, <lora:sd-te:0.8> in snow <LORA:sd-other>")
    assert text == "a fox, in snow"
    assert found == [LoraWeight(name="sd-te", weight=0.8), LoraWeight(name="sd-other", weight=1.0)]
    request = GenerationRequest(
        prompt="a fox <lora:sd-te:0.8>",
        settings=FAST.updated(loras=[{"name": "sd-diffusers", "weight": 0.5}]),
    )
    assert request.prompt == "a fox"
    assert [(x.name, x.weight) for x in request.settings.loras] == [
        ("sd-diffusers", 0.5),
        ("sd-te", 0.8),
    ]
    same = GenerationRequest.model_validate({"prompt": "a fox <lora:sd-te:.8>", "settings": {}})
    assert same.settings.lora_key() == (("sd-te", 0.8),)


@pytest.mark.parametrize(
    ("prompt", "words"),
    [
        ("a fox <lora:x:0.5:0.2>", "one weight per LoRA"),
        ("a fox <lora:x:lots>", "must be a number"),
        ("a fox <lora:../x:1>", "not a file name"),
        ("a fox <lora:x:9>", "out of range"),
        ("a fox <lora:x:1> <lora:x:0.5>", "named twice"),
        ("<lora:x:1>", "at least 1 character"),
    ],
)
def test_bad_prompt_tags_are_one_sentence(prompt: str, words: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=words):
        GenerationRequest(prompt=prompt)


def test_palp_and_loras_are_not_combined() -> None:
    from pydantic import ValidationError

    from generation.request import PalpRequest

    with pytest.raises(ValidationError, match="leave the LoRAs out"):
        GenerationRequest(prompt="a fox <lora:x:1>", palp=PalpRequest(steps=1))
