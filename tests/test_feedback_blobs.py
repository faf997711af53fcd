"""Feedback on a generated image in distributed mode: the image lives in the database's blob
store, never as a file on an API node or worker, and everything that learns from liked images
(the aesthetic embedding, style training) reads it from there. Round-1 reactions that name a
plain file keep working beside them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.app import create_app
from api.settings import Settings
from api.wiring.services import Components
from generation.reaction_images import blob_reference, open_reaction_image
from preference_store.blobs import FileBlobStore, SqlBlobStore
from preference_store.models import ImageReaction, Polarity

SMALL = {"steps": 2, "width": 64, "height": 64}


def _wait(http: TestClient, job_id: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        body = http.get(f"/v1/generations/{job_id}", headers=headers).json()
        if body["status"] in {"done", "failed", "cancelled"}:
            return dict(body)
        time.sleep(0.1)
    raise TimeoutError(job_id)


def _generate(http: TestClient, headers: dict[str, str], seed: int) -> dict[str, Any]:
    queued = http.post(
        "/v1/generations",
        headers=headers,
        json={"prompt": "a lighthouse at dusk", "seed": seed, **SMALL},
    )
    assert queued.status_code == 202, queued.text
    return _wait(http, queued.json()["id"], headers)


def test_liked_generated_images_are_learned_from_the_database_blob_store(
    tmp_path: Path, warm_cache: Path, postgres_url: str
) -> None:
    # Two API nodes, each with its own in-process worker and data dir, one PostgreSQL.
    node_a = Settings(
        data_dir=tmp_path / "a", cache_dir=warm_cache, database_url=postgres_url, auto_migrate=True
    )
    node_b = Settings(data_dir=tmp_path / "b", cache_dir=warm_cache, database_url=postgres_url)
    components = Components(node_a)
    assert isinstance(components.blobs, SqlBlobStore)  # what distributed mode picks
    components.accounts.create("ada")
    ada = {"Authorization": f"Bearer {components.accounts.issue_token('ada')}"}

    # A round-1 reaction: a gallery image the profile names by its file path.
    gallery_image = tmp_path / "round1" / "teal-harbour.png"
    gallery_image.parent.mkdir()
    Image.new("RGB", (64, 64), (20, 140, 150)).save(gallery_image)
    components.store.record_feedback(
        "ada",
        [],
        ImageReaction(image_id="teal-harbour", weight=1.0, path=str(gallery_image)),
        Polarity.LIKE,
        reason="round-1 onboarding",
    )

    with TestClient(create_app(node_a)) as http:
        made = _generate(http, ada, seed=3)
    assert made["status"] == "done", made
    for node in (node_a, node_b):  # the PNG is on no node's disk
        assert not (node.generations_dir / made["id"] / "image-0.png").exists()

    with TestClient(create_app(node_b)) as http:
        feedback = http.post(
            f"/v1/generations/{made['id']}/feedback",
            headers=ada,
            json={"liked": True, "comment": "love the warm golden light"},
        )
        assert feedback.status_code == 200, feedback.text

        # The next generation builds the aesthetic embedding from both liked images.
        after = _generate(http, ada, seed=4)
        assert after["status"] == "done", after
        assert after["aesthetic"]["applied"] is True, after["aesthetic"]
        exported = http.get("/v1/preferences/export", headers=ada).json()
        assert set(exported["aesthetic_embeddings"]) == {"tiny-clip"}

        # A style token trains from the blob-backed image and the round-1 file together.
        accepted = http.post("/v1/styles", headers=ada, json={"steps": 2})
        assert accepted.status_code == 202, accepted.text
        trained = _wait(http, accepted.json()["id"], ada)
        assert trained["status"] == "done", trained
        (token,) = http.get("/v1/styles", headers=ada).json()
        assert token["image_count"] == 2

        # Once the generated image is gone from the store, training says which one and why.
        components.blobs.delete(f"generations/{made['id']}/image-0.png")
        again = http.post("/v1/styles", headers=ada, json={"steps": 2})
        assert again.status_code == 202, again.text
        failed = _wait(http, again.json()["id"], ada)
        assert failed["status"] == "failed", failed
        assert f"generations/{made['id']}/image-0.png" in failed["error"], failed["error"]


def test_a_reaction_opens_from_its_file_or_its_blob_and_says_when_the_blob_is_gone(
    tmp_path: Path,
) -> None:
    blobs = FileBlobStore(tmp_path / "elsewhere")
    buffer = tmp_path / "liked.png"
    Image.new("RGB", (8, 8), (200, 120, 40)).save(buffer)
    blobs.put("generations/j1/image-0.png", buffer.read_bytes())

    from_file = ImageReaction(image_id="gallery-1", path=str(buffer))  # round-1 data
    from_blob = ImageReaction(image_id="generation-j1", path="blob:generations/j1/image-0.png")
    assert from_blob.path == blob_reference("generations/j1/image-0.png")
    assert open_reaction_image(from_file, None).getpixel((0, 0)) == (200, 120, 40)
    assert open_reaction_image(from_blob, blobs).getpixel((0, 0)) == (200, 120, 40)

    blobs.delete("generations/j1/image-0.png")
    with pytest.raises(FileNotFoundError, match=r"generations/j1/image-0\.png is no longer"):
        open_reaction_image(from_blob, blobs)
