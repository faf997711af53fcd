"""Token files: diffusers' own loader is the judge; A1111 files import; bad files store nothing."""

from __future__ import annotations

import io
import pickle
from fractions import Fraction
from pathlib import Path

import chromadb
import pytest
import torch
from chromadb.config import Settings as ChromaSettings
from safetensors.torch import load as load_safetensors

from generation.style_formats import (
    InvalidStyleFile,
    encoder_widths,
    export_token,
    read_token_file,
    to_blob,
)
from generation.style_library import as_token, import_token_file
from preference_store.database import create_schema, make_engine
from preference_store.models import Profile
from preference_store.store import PreferenceStore
from preference_store.styles import StyleRecord, StyleStore
from preference_store.transfer import export_profile, import_profile
from tests.doubles.tiny_models import build_tiny_sd, build_tiny_sdxl


@pytest.fixture()
def styles(tmp_path: Path) -> StyleStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    create_schema(engine)
    return StyleStore(engine)


def vectors(count: int, *widths: int, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    keys = ("clip_l", "clip_g")
    return {keys[i]: torch.randn(count, w, generator=gen) for i, w in enumerate(widths)}


def rows(encoder, tokenizer, token: str, count: int) -> torch.Tensor:
    names = [token] + [f"{token}_{i}" for i in range(1, count)]
    ids = tokenizer.convert_tokens_to_ids(names)
    return encoder.get_input_embeddings().weight[ids]


@pytest.mark.parametrize("count", [1, 3])
@pytest.mark.parametrize(
    ("fmt", "suffix"), [("diffusers", ".safetensors"), ("a1111", ".pt"), ("a1111", ".safetensors")]
)
def test_export_loads_with_diffusers_load_textual_inversion(tmp_path, fmt, suffix, count) -> None:
    learned = vectors(count, 32)
    path = tmp_path / f"learned_embeds{suffix}"
    path.write_bytes(export_token(learned, name="<alice-style>", fmt=fmt, suffix=suffix))
    pipe = build_tiny_sd()
    pipe.load_textual_inversion(str(path), token="<alice-style>")
    assert torch.equal(
        rows(pipe.text_encoder, pipe.tokenizer, "<alice-style>", count), learned["clip_l"]
    )
    back, _name = read_token_file(path.read_bytes(), path.name, {"clip_l": 32})
    assert torch.equal(back["clip_l"], learned["clip_l"])


def test_sdxl_pair_round_trips_through_diffusers(tmp_path) -> None:
    learned = vectors(2, 32, 32, seed=4)
    path = tmp_path / "pair.safetensors"
    path.write_bytes(export_token(learned, name="<a>", fmt="diffusers"))
    state = load_safetensors(path.read_bytes())
    assert set(state) == {"clip_l", "clip_g"}
    pipe = build_tiny_sdxl()
    pipe.load_textual_inversion(
        state["clip_l"], token="<a>", text_encoder=pipe.text_encoder, tokenizer=pipe.tokenizer
    )
    pipe.load_textual_inversion(
        state["clip_g"], token="<a>", text_encoder=pipe.text_encoder_2, tokenizer=pipe.tokenizer_2
    )
    assert torch.equal(rows(pipe.text_encoder, pipe.tokenizer, "<a>", 2), learned["clip_l"])
    assert torch.equal(rows(pipe.text_encoder_2, pipe.tokenizer_2, "<a>", 2), learned["clip_g"])
    back, _ = read_token_file(path.read_bytes(), path.name, {"clip_l": 32, "clip_g": 32})
    assert all(torch.equal(back[k], learned[k]) for k in learned)


def test_a_file_made_as_a1111_writes_it_imports(tiny_sd, styles) -> None:
    vec = torch.nn.Parameter(torch.randn(2, 32))  # A1111 saves its trainable vec as is
    buffer = io.BytesIO()
    torch.save(
        {
            "string_to_token": {"*": 265},
            "string_to_param": {"*": vec},
            "name": "moody-ink",
            "step": 1500,
            "sd_checkpoint": "cc6cb27103",
            "sd_checkpoint_name": "v1-5-pruned-emaonly",
        },
        buffer,
    )
    record = import_token_file(
        tiny_sd,
        model="tiny",
        user_id="alice",
        data=buffer.getvalue(),
        filename="moody-ink.pt",
        styles=styles,
    ).record
    assert record.name == "moody-ink" and record.source == "imported" and record.vectors == 2
    stored, blob = styles.get("alice", record.id)
    assert torch.equal(as_token(stored, blob).vectors["clip_l"], vec.detach())


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (
            export_token(vectors(1, 768), name="<x>", fmt="diffusers"),
            "sd15.safetensors",
            "768 wide, the model's encoder needs 32",
        ),
        (
            export_token(vectors(1, 32, 32), name="<x>", fmt="diffusers"),
            "xl.safetensors",
            "made for SDXL",
        ),
        (b"\x00garbage" * 10, "broken.safetensors", "not a readable safetensors"),
        (b"not a pickle at all", "broken.pt", "not a readable .pt/.bin"),
        (  # torch's own reason was a page of advice, cut mid-sentence
            pickle.dumps(Fraction(1, 3)),
            "object.pt",
            r"object.pt: not a readable .pt/.bin token file \(only plain tensors are read: "
            r"loading anything else could run code\)$",
        ),
        (b"", "empty.pt", "empty"),
        (
            export_token(
                {"clip_l": torch.full((1, 32), float("nan"))}, name="<x>", fmt="diffusers"
            ),
            "nan.safetensors",
            "NaN",
        ),
    ],
)
def test_bad_files_give_one_line_and_store_nothing(
    tiny_sd, styles, data, filename, message
) -> None:
    with pytest.raises(InvalidStyleFile, match=message) as caught:
        import_token_file(
            tiny_sd, model="tiny", user_id="alice", data=data, filename=filename, styles=styles
        )
    assert "\n" not in str(caught.value)
    assert styles.list_tokens("alice") == []


def test_an_sd1_file_is_refused_for_sdxl(tiny_sdxl, styles) -> None:
    data = export_token(vectors(1, 32), name="<x>", fmt="diffusers")
    with pytest.raises(InvalidStyleFile, match="one-encoder model"):
        import_token_file(
            tiny_sdxl,
            model="tiny-sdxl",
            user_id="a",
            data=data,
            filename="x.safetensors",
            styles=styles,
        )
    assert encoder_widths(tiny_sdxl) == {"clip_l": 32, "clip_g": 32}


def test_retraining_adds_a_token_and_old_ones_stay_readable(styles) -> None:
    first = styles.add(
        StyleRecord(
            user_id="alice", model="tiny", family="clip_l:32", name="<a>", profile_version=2
        ),
        to_blob(vectors(1, 32)),
    )
    second = styles.add(
        StyleRecord(
            user_id="alice", model="tiny", family="clip_l:32", name="<a>", profile_version=3
        ),
        to_blob(vectors(1, 32, seed=1)),
    )
    assert [r.id for r in styles.list_tokens("alice")] == [second.id, first.id]
    latest = styles.latest("alice", "tiny")
    assert latest is not None and latest[0].profile_version == 3
    assert styles.get("alice", first.id)[0].profile_version == 2
    assert styles.latest("alice", "other-model") is None
    assert styles.list_tokens("bob") == []


def test_tokens_survive_profile_export_and_import(tmp_path, embedder, styles) -> None:
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    store = PreferenceStore(client, embedder, styles.engine)
    store.restore(Profile(user_id="alice"))
    learned = vectors(2, 32)
    record = styles.add(
        StyleRecord(
            user_id="alice",
            model="tiny",
            family="clip_l:32",
            name="<alice-style>",
            profile_version=1,
            image_ids=["g1", "g2"],
            losses=[0.5, 0.4],
            steps=2,
        ),
        to_blob(learned),
    )
    document = export_profile(store, "alice", styles)
    assert len(document["style_tokens"]) == 1
    moved = {**document, "user_id": "carol"}
    import_profile(store, moved, styles)
    (copy,) = styles.list_tokens("carol")
    assert copy.image_ids == ["g1", "g2"] and copy.profile_version == 1 and copy.id != record.id
    assert torch.equal(as_token(*styles.get("carol", copy.id)).vectors["clip_l"], learned["clip_l"])
    import_profile(store, moved, styles)  # importing again adds nothing
    assert len(styles.list_tokens("carol")) == 1
