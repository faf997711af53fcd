"""Hub ids and the local Hugging Face cache: is a model there, fetch one on purpose, list them.

Loading never downloads: a hub id is read from the cache only, because a silent multi-GB
download (or, offline, a long retry followed by a misleading error) is not what a person asked
for. ``tastemaker models pull ID`` fetches the files a pipeline or CLIP model needs, with the
hub's own progress bar. Without a network (``HF_HUB_OFFLINE=1``, or the hub not reachable within
``PROBE_SECONDS``) it says so in one line. Only ``huggingface_hub`` is imported here (no torch).
"""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from generation.errors import HubUnreachableError, ModelLoadError, ModelNotFoundError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
PROBE_SECONDS = 1.5
PIPELINE_INDEX = "model_index.json"
MODEL_CONFIG = "config.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin")
_SHARD = re.compile(r"-\d+-of-\d+$")


def is_hub_id(name: str) -> bool:
    return bool(HUB_ID.match(name)) and not Path(name).expanduser().exists()


def pull_command(repo_id: str) -> str:
    return f"tastemaker models pull {repo_id}"


def cache_dir() -> Path:
    """huggingface_hub's cache folder (HF_HUB_CACHE / HF_HOME), read when asked."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def cached_snapshot(repo_id: str) -> Path | None:
    """The cached snapshot folder of ``repo_id`` (a pipeline or a transformers model), if any."""
    from huggingface_hub import try_to_load_from_cache

    for marker in (PIPELINE_INDEX, MODEL_CONFIG):
        found = try_to_load_from_cache(repo_id, marker, cache_dir=cache_dir())
        if isinstance(found, str):
            return Path(found).parent
    return None


def require_cached(repo_id: str) -> Path:
    """The snapshot, or ModelNotFoundError naming the command that downloads it."""
    snapshot = cached_snapshot(repo_id)
    if snapshot is None:
        raise ModelNotFoundError(
            f"{repo_id} is not downloaded: run `{pull_command(repo_id)}` first "
            f"(models are large; it is fetched once into {cache_dir()})"
        )
    return snapshot


def weight_variant(filename: str) -> str | None:
    """``fp16`` for ``unet/diffusion_pytorch_model.fp16.safetensors`` (sharded too), else None."""
    if not _is_weight(filename):
        return None
    name = PurePosixPath(filename).name
    stem = name.removesuffix(".safetensors").removesuffix(".bin")
    parts = _SHARD.sub("", stem).split(".", 1)
    return parts[1] if len(parts) == 2 and parts[1] else None


def _is_weight(filename: str) -> bool:
    return filename.endswith(WEIGHT_SUFFIXES) and "training_args" not in filename


def choose_files(files: list[str], variant: str | None = None) -> list[str]:
    """The files of a hub repo that tastemaker loads: for a diffusers pipeline the index, each
    component's configs and one set of weights (``variant`` where a component has it,
    safetensors before .bin); for a transformers model (CLIP) its top-level configs, vocabulary
    and weights. Whole-model checkpoints, ONNX and Flax/TF copies are left on the hub."""
    if PIPELINE_INDEX in files:
        folders = sorted({f.split("/")[0] for f in files if f.count("/") == 1})
        chosen = [PIPELINE_INDEX]
        for folder in folders:
            inside = [f for f in files if f.startswith(f"{folder}/") and f.count("/") == 1]
            chosen += [f for f in inside if f.endswith((".json", ".txt"))]
            chosen += _weights(inside, variant)
        return chosen
    top = [f for f in files if "/" not in f]
    return [f for f in top if f.endswith((".json", ".txt", ".model"))] + _weights(top, variant)


def _weights(files: list[str], variant: str | None) -> list[str]:
    for suffix in WEIGHT_SUFFIXES:
        weights = [f for f in files if _is_weight(f) and f.endswith(suffix)]
        wanted = [f for f in weights if weight_variant(f) == variant]
        plain = [f for f in weights if weight_variant(f) is None]
        if wanted or plain:
            return wanted or plain
    return []


def cached_variant(snapshot: Path) -> str | None:
    """The weight variant a snapshot holds when it has no plain weights (a ``--variant`` pull)."""
    files = [p.relative_to(snapshot).as_posix() for p in snapshot.glob("*/*") if p.is_file()]
    weights = [f for f in files if _is_weight(f)]
    if not weights or any(weight_variant(f) is None for f in weights):
        return None
    return weight_variant(weights[0])


def offline_reason() -> str | None:
    """Why the hub cannot be used now, in words, or None; answers within ``PROBE_SECONDS``."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "offline (HF_HUB_OFFLINE=1 is set)"
    url = urlparse(constants.ENDPOINT)
    host = url.hostname or ""
    port = url.port or (443 if url.scheme == "https" else 80)
    if not _reachable(host, port):
        return f"cannot reach {host} (no network?)"
    return None


def _reachable(host: str, port: int) -> bool:
    """A TCP connection to the hub, bounded in time (name lookup included, hence the thread)."""
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=PROBE_SECONDS):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(PROBE_SECONDS)
    return bool(result and result[0])


@dataclass(frozen=True)
class Pulled:
    repo_id: str
    snapshot: Path
    files: int


def pull(repo_id: str, *, variant: str | None = None, progress: Any = None) -> Pulled:
    """Download what ``choose_files`` picks into the cache; ``progress`` is a tqdm class
    (the hub's own bars are switched off for the other commands)."""
    if not HUB_ID.match(repo_id):
        raise ModelNotFoundError(f"{repo_id!r} is not a hub id of the form owner/name")
    reason = offline_reason()
    if reason is not None:
        raise HubUnreachableError(
            f"cannot download {repo_id}: {reason}; run `{pull_command(repo_id)}` where the hub "
            "is reachable"
        )
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    try:
        files = choose_files(HfApi().list_repo_files(repo_id), variant)
        if variant is not None and not any(weight_variant(f) == variant for f in files):
            raise ModelNotFoundError(
                f"{repo_id} has no {variant!r} weights; pull without --variant"
            )
        folder = snapshot_download(repo_id, allow_patterns=files, tqdm_class=progress)
    except (GatedRepoError, RepositoryNotFoundError) as error:
        raise ModelNotFoundError(
            f"no model {repo_id!r} on the hub, or it needs a login (`hf auth login`): "
            f"{_first_line(error)}"
        ) from error
    except (HfHubHTTPError, OSError) as error:
        raise ModelLoadError(f"download of {repo_id} failed: {_first_line(error)}") from error
    return Pulled(repo_id, Path(folder), len(files))


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


@dataclass(frozen=True)
class CachedModel:
    repo_id: str
    kind: str
    size: int
    files: int
    last_used: float


def list_cached() -> list[CachedModel]:
    """The models in the cache with their size on disk, largest first (none if no cache)."""
    from huggingface_hub import CacheNotFound, scan_cache_dir

    try:
        info = scan_cache_dir(cache_dir())
    except CacheNotFound:
        return []
    models = []
    for repo in info.repos:
        if repo.repo_type != "model":
            continue
        names = {f.file_name for revision in repo.revisions for f in revision.files}
        kind = "pipeline" if PIPELINE_INDEX in names else "model"
        last = repo.last_accessed or repo.last_modified
        models.append(CachedModel(repo.repo_id, kind, repo.size_on_disk, repo.nb_files, last))
    return sorted(models, key=lambda m: -m.size)
