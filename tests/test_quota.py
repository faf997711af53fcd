"""Storage stays bounded per person: each limit refused with a 422 naming it, history compacted.

Through the real service (FastAPI's TestClient) on SQLite and on the machine's PostgreSQL (a
fresh database), with a small quota so that a few requests reach it: a refused change writes
nothing, repeated large imports keep at most ``max_history_bytes`` of versions and the newest
always, style tokens are counted. The merge rule and the aesthetic embeddings of compacted
versions are checked on the store itself (real SQLite and chromadb).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import pytest
import torch
from chromadb.config import Settings as ChromaSettings
from fastapi.testclient import TestClient
from safetensors.torch import save as save_safetensors
from sqlalchemy import create_engine, func, select

from api.settings import Settings
from preference_store.database import create_schema, make_engine
from preference_store.embeddings import SentenceTransformerEmbedder
from preference_store.models import AttributeDraft, Polarity
from preference_store.quota import Quota
from preference_store.store import PreferenceStore
from preference_store.versions import ProfileVersionRow
from tests.doubles.admin_client import admin_app, new_user

KIB = 1024
QUOTA = {
    "max_profile_bytes": 512 * KIB,
    "max_history_bytes": 1_200 * KIB,
    "max_versions_kept": 6,
    "max_evidence_per_attribute": 5,
    "max_profile_images": 10,
    "max_style_tokens": 2,
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, Settings]]:
    with admin_app(tmp_path_factory.mktemp("quota") / "data", request.param, **QUOTA) as service:
        yield service


@pytest.fixture()
def client(service: tuple[TestClient, Settings]) -> TestClient:
    return service[0]


def document(user: str, attributes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    body = {"schema": "tastemaker.profile", "schema_version": 1, "user_id": user}
    return {**body, "attributes": attributes, **extra}


def heavy(round_: int, count: int, evidence: int = 5) -> list[dict[str, Any]]:
    """``count`` attributes, each with ``evidence`` pieces of 2,000 characters (~10 KB)."""
    return [
        {
            "id": f"a{n}",
            "text": f"colour {n}",
            "polarity": "like",
            "evidence": [
                f"round {round_} piece {e} " + "lorem ipsum " * 164 for e in range(evidence)
            ],
        }
        for n in range(count)
    ]


def versions(client: TestClient, headers: dict[str, str]) -> list[int]:
    return [v["version"] for v in client.get("/v1/preferences/versions", headers=headers).json()]


def stored_bytes(settings: Settings, user: str) -> int:
    """What the person's versions take in the database, measured there."""
    engine = create_engine(settings.resolved_database_url)
    try:
        with engine.connect() as connection:
            total = connection.scalar(
                select(func.sum(func.length(ProfileVersionRow.snapshot))).where(
                    ProfileVersionRow.user_id == user
                )
            )
    finally:
        engine.dispose()
    return int(total or 0)


def test_repeated_large_imports_keep_history_bounded_and_the_newest(
    service: tuple[TestClient, Settings],
) -> None:
    client, settings = service
    user, headers = new_user(client)
    for round_ in range(20):  # ~460 KB of evidence each: 9 MB and 20 versions unbounded
        imported = client.post(
            "/v1/preferences/import", headers=headers, json=document(user, heavy(round_, 45))
        )
        assert imported.status_code == 200, imported.text
    kept = versions(client, headers)
    assert kept[-1] == 20 and len(kept) < 6  # the newest is there, the oldest compacted
    assert stored_bytes(settings, user) <= settings.max_history_bytes
    newest = client.get("/v1/preferences/export", headers=headers).json()
    assert newest["attributes"][0]["evidence"][0].startswith("round 19 ")
    gone = client.get("/v1/preferences/versions/1", headers=headers)
    assert gone.status_code == 404
    restored = client.post(f"/v1/preferences/versions/{kept[0]}/restore", headers=headers)
    assert restored.status_code == 200, restored.text


def test_history_keeps_the_configured_number_of_versions(client: TestClient) -> None:
    _user, headers = new_user(client)
    for n in range(10):
        added = client.post(
            "/v1/preferences", headers=headers, json={"text": f"tone {n}", "polarity": "like"}
        )
        assert added.status_code == 201, added.text
    assert versions(client, headers) == list(range(5, 11))  # max_versions_kept = 6
    diff = client.get("/v1/preferences/diff?from=5", headers=headers).json()
    assert [a["text"] for a in diff["added"]] == [f"tone {n}" for n in range(5, 10)]


def test_a_profile_over_its_byte_limit_is_refused_and_nothing_is_written(
    client: TestClient,
) -> None:
    user, headers = new_user(client)
    client.post("/v1/preferences", headers=headers, json={"text": "teal", "polarity": "like"})
    refused = client.post(
        "/v1/preferences/import", headers=headers, json=document(user, heavy(0, 80))
    )
    assert refused.status_code == 422, refused.text
    assert "max_profile_bytes" in refused.json()["detail"]
    assert f"at most {512 * KIB} bytes" in refused.json()["detail"]
    assert versions(client, headers) == [1]


def test_evidence_per_attribute_and_images_are_capped(client: TestClient) -> None:
    user, headers = new_user(client)
    too_much = client.post(
        "/v1/preferences/import", headers=headers, json=document(user, heavy(0, 1, evidence=6))
    )
    assert too_much.status_code == 422, too_much.text
    assert "at most 5 pieces of evidence (max_evidence_per_attribute)" in too_much.json()["detail"]
    images = [{"image_id": f"img{n}"} for n in range(11)]
    crowded = client.post(
        "/v1/preferences/import",
        headers=headers,
        json=document(user, [], liked_images=images[:6], disliked_images=images[6:]),
    )
    assert crowded.status_code == 422, crowded.text
    assert "at most 10 liked and disliked images (max_profile_images)" in crowded.json()["detail"]
    assert versions(client, headers) == []
    fits = client.post(
        "/v1/preferences/import", headers=headers, json=document(user, heavy(0, 1, evidence=5))
    )
    assert fits.status_code == 200, fits.text


def token(seed: int) -> dict[str, Any]:
    vectors = save_safetensors(
        {"clip_l": torch.randn(1, 32, generator=torch.Generator().manual_seed(seed))}
    )
    fields = {"model": "tiny", "family": "clip_l:32", "name": "<shared-style>"}
    return {**fields, "blob": base64.b64encode(vectors).decode("ascii")}


def test_style_tokens_are_counted_and_a_refused_import_writes_nothing(client: TestClient) -> None:
    user, headers = new_user(client)
    three = document(user, [], style_tokens=[token(1), token(2), token(3)])
    refused = client.post("/v1/preferences/import", headers=headers, json=three)
    assert refused.status_code == 422, refused.text
    assert "at most 2 style tokens (max_style_tokens)" in refused.json()["detail"]
    assert versions(client, headers) == []
    assert client.get("/v1/styles", headers=headers).json() == []
    two = document(user, [], style_tokens=[token(1), token(2)])
    assert client.post("/v1/preferences/import", headers=headers, json=two).status_code == 200
    assert len(client.get("/v1/styles", headers=headers).json()) == 2


def test_the_schema_states_the_quota(service: tuple[TestClient, Settings]) -> None:
    client, _settings = service
    parts = client.get("/openapi.json").json()["components"]["schemas"]
    evidence = parts["ImportedAttribute"]["properties"]["evidence"]
    assert evidence["maxItems"] == 5
    assert parts["ProfileDocument"]["properties"]["liked_images"]["maxItems"] == 10


# -- the store itself ------------------------------------------------------------------------


@pytest.fixture()
def store(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> PreferenceStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    create_schema(engine)
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    return PreferenceStore(
        client, embedder, engine, quota=Quota(max_evidence_per_attribute=3, max_versions_kept=2)
    )


def test_merging_keeps_the_newest_evidence_within_the_cap(store: PreferenceStore) -> None:
    for n in range(6):
        draft = AttributeDraft(text="teal", polarity=Polarity.LIKE, evidence=[f"said {n}"])
        store.add("amy", [draft])
    (teal,) = store.list_attributes("amy")
    assert teal.evidence == ["said 3", "said 4", "said 5"]


def test_compacted_versions_take_their_aesthetic_embeddings_along(store: PreferenceStore) -> None:
    store.add("amy", [AttributeDraft(text="teal", polarity=Polarity.LIKE)])
    store.put_aesthetic_embedding("amy", 1, "clip-test", [0.1, 0.2])
    store.add("amy", [AttributeDraft(text="gold", polarity=Polarity.LIKE)])
    assert store.get_aesthetic_embedding("amy", 1, "clip-test") is not None
    store.add("amy", [AttributeDraft(text="fog", polarity=Polarity.LIKE)])
    assert [v.version for v in store.versions("amy")] == [2, 3]
    assert store.get_aesthetic_embedding("amy", 1, "clip-test") is None
