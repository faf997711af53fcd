"""The HTTP app's read-only preference routes, authenticated by bearer token."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.wiring.services import Components
from preference_store.models import AttributeDraft, Polarity


@pytest.fixture()
def client(tmp_path: Path, warm_cache: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = Settings(data_dir=tmp_path / "data", cache_dir=warm_cache)
    components = Components(settings)
    components.accounts.create("alice")
    components.accounts.create("bob")
    components.store.add(
        "alice",
        [
            AttributeDraft(text="teal palette", category="color", polarity=Polarity.LIKE),
            AttributeDraft(text="clutter", category="composition", polarity=Polarity.DISLIKE),
        ],
    )
    tokens = {u: components.accounts.issue_token(u) for u in ("alice", "bob")}
    with TestClient(create_app(settings)) as test_client:
        yield test_client, tokens


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_health_and_readiness_once_the_model_has_loaded(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    http, _ = client
    assert http.get("/healthz").json() == {"status": "ok"}
    deadline = time.monotonic() + 60
    while http.get("/readyz").status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert http.get("/readyz").json() == {"status": "ready"}


def test_preferences_are_grouped_for_the_tokens_user(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    http, tokens = client
    body = http.get("/v1/preferences", headers=auth(tokens["alice"])).json()
    assert body["version"] == 1
    groups = {g["category"]: g for g in body["groups"]}
    assert [a["text"] for a in groups["color"]["likes"]] == ["teal palette"]
    assert [a["text"] for a in groups["composition"]["dislikes"]] == ["clutter"]
    assert http.get("/v1/preferences", headers=auth(tokens["bob"])).json()["groups"] == []


def test_search_versions_and_export(client: tuple[TestClient, dict[str, str]]) -> None:
    http, tokens = client
    headers = auth(tokens["alice"])
    hits = http.get("/v1/preferences/search", params={"q": "blue colours"}, headers=headers)
    assert hits.json()[0]["attribute"]["text"] == "teal palette"
    assert [v["version"] for v in http.get("/v1/preferences/versions", headers=headers).json()] == [
        1
    ]
    assert http.get("/v1/preferences/versions/1", headers=headers).json()["version"] == 1
    assert http.get("/v1/preferences/export", headers=headers).json()["user_id"] == "alice"


def test_missing_or_wrong_token_is_401_and_unknown_version_404(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    http, tokens = client
    assert http.get("/v1/preferences").status_code == 401
    assert http.get("/v1/preferences", headers=auth("tm_wrong")).status_code == 401
    missing = http.get("/v1/preferences/versions/7", headers=auth(tokens["alice"]))
    assert missing.status_code == 404 and "version 7" in missing.json()["detail"]
    empty = http.get("/v1/preferences/search", params={"q": ""}, headers=auth(tokens["alice"]))
    assert empty.status_code == 422


def test_a_flooding_token_gets_429_with_retry_after_and_others_are_unaffected(
    tmp_path: Path,
    warm_cache: Path,
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        cache_dir=warm_cache,
        rate_limit_burst=3,
        rate_limit_per_minute=1,
    )
    with TestClient(create_app(settings)) as http:
        tokens = [http.post("/v1/users", json={"id": name}).json()["token"] for name in "ab"]
        answers = [http.get("/v1/me", headers=auth(tokens[0])) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert int(answers[-1].headers["Retry-After"]) >= 1
        assert "too many requests" in answers[-1].json()["detail"]
        assert http.get("/v1/me", headers=auth(tokens[1])).status_code == 200


def test_with_an_admin_token_only_the_admin_creates_users(tmp_path: Path, warm_cache: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", cache_dir=warm_cache, admin_token="s3cret-admin"
    )
    with TestClient(create_app(settings)) as http:
        refused = http.post("/v1/users", json={"id": "eve"})
        assert refused.status_code == 403 and "admin token" in refused.json()["detail"]
        created = http.post("/v1/users", json={"id": "eve"}, headers=auth("s3cret-admin"))
        assert created.status_code == 201
        assert http.get("/v1/me", headers=auth(created.json()["token"])).json()["id"] == "eve"


def test_a_model_that_cannot_load_is_reported_and_the_rest_keeps_working(
    tmp_path: Path, warm_cache: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", cache_dir=warm_cache, model="no-such-owner/no-such-model"
    )
    with TestClient(create_app(settings)) as http:
        deadline = time.monotonic() + 60
        while http.get("/readyz").json()["status"] == "loading models":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        ready = http.get("/readyz")
        assert ready.status_code == 503 and "no-such-model" in ready.json()["detail"]
        token = http.post("/v1/users", json={"id": "gina"}).json()["token"]
        refused = http.post("/v1/generations", headers=auth(token), json={"prompt": "a cat"})
        assert refused.status_code == 503 and "failed to load" in refused.json()["detail"]
        assert http.post("/v1/onboarding", headers=auth(token)).status_code == 201


def test_an_import_over_http_keeps_no_server_paths_or_embeddings(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    http, tokens = client
    headers = auth(tokens["bob"])
    document = http.get("/v1/preferences/export", headers=auth(tokens["alice"])).json()
    document["liked_images"] = [{"image_id": "g-01", "weight": 1.0, "path": "/etc/hostname"}]
    document["aesthetic_embeddings"] = {"made-up-clip": [0.1, 0.2]}
    assert http.post("/v1/preferences/import", json=document, headers=headers).status_code == 200
    imported = http.get("/v1/preferences/export", headers=headers).json()
    assert imported["liked_images"] == [
        {"image_id": "g-01", "weight": 1.0, "path": None, "chosen": False}
    ]
    assert imported["aesthetic_embeddings"] == {}
    assert {a["text"] for a in imported["attributes"]} == {"teal palette", "clutter"}


# -- GET /v1/preferences is built once per version (api/bodies.py) --------------------------


def test_the_cached_listing_is_each_users_own_and_follows_every_write(
    tmp_path: Path, warm_cache: Path
) -> None:
    """Bodies are kept per user and version: a user never gets another's, and a write made
    through the API, or by another process on the same database, shows on the next read."""
    settings = Settings(data_dir=tmp_path / "data", cache_dir=warm_cache)
    other_process = Components(settings)  # a second API node or the CLI, same database
    for user in ("alice", "bob"):
        other_process.accounts.create(user)
    tokens = {u: other_process.accounts.issue_token(u) for u in ("alice", "bob")}
    with TestClient(create_app(settings)) as http:

        def listing(user: str) -> dict[str, object]:
            answer = http.get("/v1/preferences", headers=auth(tokens[user]))
            assert answer.status_code == 200
            body: dict[str, object] = answer.json()
            return body

        def texts(user: str) -> list[str]:
            groups = listing(user)["groups"]
            assert isinstance(groups, list)
            return sorted(a["text"] for g in groups for a in g["likes"] + g["dislikes"])

        http.post(
            "/v1/preferences",
            json={"text": "teal palette", "category": "color", "polarity": "like"},
            headers=auth(tokens["alice"]),
        )
        assert texts("alice") == ["teal palette"] and texts("bob") == []
        assert texts("alice") == ["teal palette"] and texts("bob") == []  # now from the cache
        assert listing("bob")["user_id"] == "bob" and listing("alice")["user_id"] == "alice"

        other_process.store.add(
            "alice", [AttributeDraft(text="fog", category="lighting", polarity=Polarity.LIKE)]
        )
        assert texts("alice") == ["fog", "teal palette"] and listing("alice")["version"] == 2
        assert texts("bob") == []

        http.post(
            "/v1/preferences",
            json={"text": "clutter", "category": "composition", "polarity": "dislike"},
            headers=auth(tokens["bob"]),
        )
        assert texts("bob") == ["clutter"] and texts("alice") == ["fog", "teal palette"]

        # Deleted and made again under the same name: version 1 again, but a new one.
        other_process.store.delete_user("alice")
        assert listing("alice")["version"] == 0 and texts("alice") == []
        other_process.store.add(
            "alice", [AttributeDraft(text="neon", category="color", polarity=Polarity.LIKE)]
        )
        assert texts("alice") == ["neon"] and listing("alice")["version"] == 1


def test_the_cached_listing_is_the_listing_built_anew(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    """The same bytes as serialising the current profile on every request did."""
    from api.schemas import PreferencesOut

    http, tokens = client
    store = http.app.state.store  # type: ignore[attr-defined]
    first = http.get("/v1/preferences", headers=auth(tokens["alice"]))
    again = http.get("/v1/preferences", headers=auth(tokens["alice"]))
    fresh = PreferencesOut.from_profile(store.profile("alice", with_aesthetic=False))
    assert first.content == again.content == fresh.model_dump_json().encode()
    assert first.headers["content-type"] == "application/json"
