"""Hub ids are downloaded on purpose (`models pull`, `generate --pull`), never while loading.

This machine has no hub: the download path is checked up to the network (offline and
unreachable each give one line naming the command to run); the cache side (`models list`,
loading a cached id) runs on a cache folder laid out here as huggingface_hub lays it out.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from diffusers import StableDiffusionPipeline
from huggingface_hub import constants

from api.wiring.services import Components
from generation.hub import cached_variant, choose_files, weight_variant
from tests.cli_runner import run_cli

SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
PULL_SD15 = f"tastemaker models pull {SD15}"


@pytest.fixture()
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def cached_repo(cache: Path, repo_id: str) -> Path:
    """An empty snapshot folder of ``repo_id`` where huggingface_hub looks for it."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = "a" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    return snapshot


def test_pull_offline_is_one_line_naming_the_command(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    result = run_cli(capsys, "models", "pull", SD15, "--variant", "fp16")
    assert result.code == 1
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]  # one line
    assert line.startswith("error: cannot download") and "HF_HUB_OFFLINE=1" in line
    assert f"`{PULL_SD15}`" in line
    assert "Error" not in result.stderr and "Traceback" not in result.stderr


def test_pull_without_a_network_says_the_hub_is_unreachable(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # discard port: refused
    result = run_cli(capsys, "models", "pull", "owner/model")
    assert result.code == 1
    assert "cannot reach 127.0.0.1" in result.stderr and len(result.stderr.splitlines()) == 1
    assert "`tastemaker models pull owner/model`" in result.stderr


def test_generate_with_an_id_not_downloaded_asks_for_models_pull(
    data_dir: Path, hub_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Components().accounts.ensure("alice")
    asked = run_cli(capsys, "generate", "-u", "alice", "--model", SD15, "a lighthouse")
    assert asked.code == 1
    assert f"`{PULL_SD15}`" in asked.stderr and "--pull" in asked.stderr
    pulled = run_cli(capsys, "generate", "-u", "alice", "--model", SD15, "--pull", "x")
    assert pulled.code == 1  # --pull downloads: offline here, so the download says why not
    assert "cannot download" in pulled.stderr and "HF_HUB_OFFLINE=1" in pulled.stderr
    assert not hub_cache.exists()  # nothing was written on the way


def test_a_clip_id_not_downloaded_names_the_command(
    data_dir: Path, hub_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Components().accounts.ensure("alice")
    picture = tmp_path / "a.png"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(picture)
    args = ["--model", "some/model", "--clip-model", "openai/clip-vit-large-patch14"]
    result = run_cli(capsys, "score", "-u", "alice", *args, str(picture))
    assert result.code == 1
    assert "`tastemaker models pull openai/clip-vit-large-patch14`" in result.stderr


def test_aesthetic_import_reads_a_clip_id_from_the_cache_only(
    data_dir: Path, hub_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Components().accounts.ensure("alice")
    clip = ["--clip", "openai/clip-vit-large-patch14"]
    result = run_cli(capsys, "aesthetic-import", "-u", "alice", *clip, str(tmp_path / "a.pt"))
    assert result.code == 1
    assert "`tastemaker models pull openai/clip-vit-large-patch14`" in result.stderr


@pytest.mark.parametrize("variant", [None, "fp16"])
def test_a_cached_id_is_listed_with_its_size_and_generates(
    data_dir: Path,
    hub_cache: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tiny_sd: StableDiffusionPipeline,
    variant: str | None,
) -> None:
    snapshot = cached_repo(hub_cache, "someone/tiny-sd")
    tiny_sd.save_pretrained(snapshot, variant=variant)
    assert cached_variant(snapshot) == variant
    size = sum(p.stat().st_size for p in snapshot.rglob("*") if p.is_file())

    listed = run_cli(capsys, "models", "list")
    assert listed.code == 0, listed.stderr
    (row,) = [line for line in listed.stdout.splitlines() if "someone/tiny-sd" in line]
    assert "pipeline" in row and f"{size / 1e3:.1f} KB" in row  # tiny: well under 1 MB

    Components().accounts.ensure("alice")
    args = ["-u", "alice", "--model", "someone/tiny-sd", "--clip-model", "tiny-clip"]
    fast = ["--steps", "1", "--width", "64", "--height", "64", "--out", str(tmp_path / "o")]
    made = run_cli(capsys, "generate", *args, *fast, "a lighthouse")
    assert made.code == 0, made.stderr
    assert len(list((tmp_path / "o").glob("*.png"))) == 1


def test_models_list_on_an_empty_cache_says_how_to_get_one(
    data_dir: Path, hub_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "models", "list")
    assert result.code == 0
    assert "no models downloaded" in result.stdout and "tastemaker models pull ID" in result.stdout


SD15_FILES = [
    ".gitattributes",
    "README.md",
    "model_index.json",
    "v1-5-pruned-emaonly.safetensors",
    "v1-5-pruned.ckpt",
    "feature_extractor/preprocessor_config.json",
    "safety_checker/config.json",
    "safety_checker/model.safetensors",
    "safety_checker/model.fp16.safetensors",
    "safety_checker/pytorch_model.bin",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "text_encoder/model.safetensors",
    "text_encoder/model.fp16.safetensors",
    "tokenizer/merges.txt",
    "tokenizer/vocab.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.safetensors",
    "unet/diffusion_pytorch_model.fp16.safetensors",
    "unet/diffusion_pytorch_model.non_ema.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.bin",
    "vae/flax_model.msgpack",
]


def test_pull_fetches_one_set_of_pipeline_weights_and_no_whole_checkpoints() -> None:
    plain = choose_files(SD15_FILES)
    assert "v1-5-pruned.ckpt" not in plain and "v1-5-pruned-emaonly.safetensors" not in plain
    assert "unet/diffusion_pytorch_model.safetensors" in plain
    assert "vae/diffusion_pytorch_model.bin" in plain  # no safetensors there: the .bin
    assert not [f for f in plain if weight_variant(f) is not None]
    assert {"tokenizer/merges.txt", "model_index.json", "scheduler/scheduler_config.json"} <= set(
        plain
    )
    half = choose_files(SD15_FILES, "fp16")
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in half
    assert "unet/diffusion_pytorch_model.safetensors" not in half
    assert "vae/diffusion_pytorch_model.bin" in half  # a component without fp16 weights


def test_pull_of_a_clip_model_takes_its_configs_vocabulary_and_safetensors() -> None:
    files = [
        "config.json",
        "merges.txt",
        "vocab.json",
        "tokenizer.json",
        "model.safetensors",
        "pytorch_model.bin",
        "tf_model.h5",
        "flax_model.msgpack",
    ]
    assert choose_files(files) == [
        "config.json",
        "merges.txt",
        "vocab.json",
        "tokenizer.json",
        "model.safetensors",
    ]
    shard = "model.fp16-00001-of-00002.safetensors"
    assert weight_variant(shard) == "fp16" and weight_variant("model-00001-of-00002.bin") is None


def test_a_missing_checkpoint_file_says_file_not_found(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Components().accounts.ensure("alice")
    missing = tmp_path / "nowhere.safetensors"
    result = run_cli(capsys, "generate", "-u", "alice", "--model", str(missing), "x")
    assert result.code == 1
    assert f"file not found: {missing}" in result.stderr
    assert "single-file-config" not in result.stderr
