"""Blobs by key: files when embedded, rows of the shared database when distributed; generated
images are served by any API node and deleted after the retention period."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api import migrate
from api.app import create_app
from api.retention import purge_expired_images
from api.settings import Settings
from api.wiring.services import Components
from preference_store.blobs import BlobStore, FileBlobStore, SqlBlobStore
from preference_store.database import make_engine
from preference_store.models import utc_now


@pytest.fixture(params=["files", "sqlite", "postgresql"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "files":
        yield FileBlobStore(tmp_path / "blobs")
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'blobs.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    engine = make_engine(url)
    migrate.upgrade(engine)
    yield SqlBlobStore(engine)
    engine.dispose()


def test_put_get_list_overwrite_delete(blobs: BlobStore) -> None:
    blobs.put("generations/j1/image-0.png", b"\x89PNG one")
    blobs.put("generations/j1/plain-0.png", b"\x00" * 70_000)
    blobs.put("tokens/ada/style.safetensors", b"weights")

    assert blobs.get("generations/j1/image-0.png") == b"\x89PNG one"
    assert blobs.get("generations/j1/plain-0.png") == b"\x00" * 70_000
    assert blobs.list("generations/") == [
        "generations/j1/image-0.png",
        "generations/j1/plain-0.png",
    ]
    assert len(blobs.list()) == 3

    blobs.put("generations/j1/image-0.png", b"two")
    assert blobs.get("generations/j1/image-0.png") == b"two"

    blobs.delete("generations/j1/image-0.png")
    blobs.delete("generations/j1/image-0.png")  # deleting what is gone is fine
    assert blobs.get("generations/j1/image-0.png") is None
    assert blobs.get("never/written") is None


@pytest.mark.parametrize("key", ["../outside", "/etc/passwd", "a//b", ".hidden/x", "", "a/../b"])
def test_a_key_that_could_leave_the_store_is_refused(blobs: BlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="not a blob key"):
        blobs.put(key, b"x")


def test_purge_deletes_only_what_is_older_and_under_the_prefix(blobs: BlobStore) -> None:
    blobs.put("generations/old/image-0.png", b"old")
    blobs.put("tokens/ada/style.safetensors", b"weights")

    assert purge_expired_images(blobs, 7, now=utc_now()) == 0
    assert purge_expired_images(blobs, 7, now=utc_now() + timedelta(days=8)) == 1

    assert blobs.list() == ["tokens/ada/style.safetensors"]
    assert blobs.purge("", utc_now() + timedelta(seconds=1)) == 1
    assert blobs.list() == []


def _wait_done(http: TestClient, job_url: str, headers: dict[str, str]) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = http.get(job_url, headers=headers).json()
        if body["status"] in {"done", "failed"}:
            return dict(body)
        time.sleep(0.1)
    raise TimeoutError(job_url)


def test_an_image_made_behind_one_api_node_is_served_by_another(
    tmp_path: Path, warm_cache: Path, postgres_url: str
) -> None:
    """Distributed mode: two nodes with their own data dirs and one PostgreSQL."""
    node_a = Settings(
        data_dir=tmp_path / "a", cache_dir=warm_cache, database_url=postgres_url, auto_migrate=True
    )
    node_b = Settings(data_dir=tmp_path / "b", cache_dir=warm_cache, database_url=postgres_url)
    accounts = Components(node_a).accounts
    accounts.create("ada")
    ada = {"Authorization": f"Bearer {accounts.issue_token('ada')}"}
    with TestClient(create_app(node_a)) as http:
        queued = http.post(
            "/v1/generations",
            headers=ada,
            json={"prompt": "a lighthouse", "steps": 2, "width": 64, "height": 64, "seed": 3},
        )
        assert queued.status_code == 202, queued.text
        job = _wait_done(http, f"/v1/generations/{queued.json()['id']}", ada)
        assert job["status"] == "done", job
        made_here = http.get(f"/v1/generations/{job['id']}/images/0", headers=ada).content

    with TestClient(create_app(node_b)) as http:
        served = http.get(f"/v1/generations/{job['id']}/images/0", headers=ada)

    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert served.content == made_here
    assert Image.open(io.BytesIO(served.content)).size == (64, 64)
    assert not (tmp_path / "a" / "generations").exists()  # nothing on a node's own disk


def test_the_embedded_service_deletes_images_past_the_retention_on_start(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    store = FileBlobStore(data_dir)
    store.put("generations/old/image-0.png", b"old")
    store.put("generations/new/image-0.png", b"new")
    ten_days_ago = time.time() - 10 * 86_400
    os.utime(store.path("generations/old/image-0.png"), (ten_days_ago, ten_days_ago))

    settings = Settings(data_dir=data_dir, image_retention_days=7)
    with TestClient(create_app(settings)):
        deadline = time.monotonic() + 30
        while store.get("generations/old/image-0.png") and time.monotonic() < deadline:
            time.sleep(0.05)

    assert store.list("generations/") == ["generations/new/image-0.png"]
    assert not (data_dir / "generations" / "old").exists()
