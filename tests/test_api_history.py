"""Profile history over HTTP: diff two versions and restore an old one as a new version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.wiring.services import Components


@pytest.fixture()
def http(
    tmp_path: Path, warm_cache: Path
) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    settings = Settings(data_dir=tmp_path / "data", cache_dir=warm_cache)
    components = Components(settings)
    for user in ("alice", "bob"):
        components.accounts.create(user)
    alice = {"Authorization": f"Bearer {components.accounts.issue_token('alice')}"}
    bob = {"Authorization": f"Bearer {components.accounts.issue_token('bob')}"}
    with TestClient(create_app(settings)) as client:
        yield client, alice, bob


def test_diff_and_restore(http: tuple[TestClient, dict[str, str], dict[str, str]]) -> None:
    client, alice, bob = http
    teal = client.post(
        "/v1/preferences",
        json={"text": "teal palette", "category": "color", "polarity": "like"},
        headers=alice,
    ).json()
    client.post(
        "/v1/preferences",
        json={"text": "lens flare", "category": "lighting", "polarity": "dislike"},
        headers=alice,
    )
    client.patch(f"/v1/preferences/{teal['id']}", json={"strength": 0.2}, headers=alice)

    diff = client.get("/v1/preferences/diff", params={"from": 1, "to": 3}, headers=alice)
    assert diff.status_code == 200, diff.text
    body = diff.json()
    assert [a["text"] for a in body["added"]] == ["lens flare"]
    assert [(c["after"]["text"], c["fields"]) for c in body["changed"]] == [
        ("teal palette", ["strength"])
    ]
    current = client.get("/v1/preferences/diff", params={"from": 0}, headers=alice).json()
    assert current["to_version"] == 3 and len(current["added"]) == 2

    restored = client.post("/v1/preferences/versions/1/restore", headers=alice)
    assert restored.status_code == 200, restored.text
    assert restored.json()["version"] == 4
    now = client.get("/v1/preferences", headers=alice).json()
    texts = [a["text"] for g in now["groups"] for a in g["likes"] + g["dislikes"]]
    assert texts == ["teal palette"]
    reasons = [v["reason"] for v in client.get("/v1/preferences/versions", headers=alice).json()]
    assert reasons[-1] == "restore version 1"
    same = client.get("/v1/preferences/diff", params={"from": 1, "to": 4}, headers=alice).json()
    assert same["added"] == same["removed"] == same["changed"] == []

    # another user's versions do not exist for bob; bad numbers are a clear 4xx
    missing = client.post("/v1/preferences/versions/1/restore", headers=bob)
    assert missing.status_code == 404 and "version 1" in missing.json()["detail"]
    assert client.get("/v1/preferences/diff", params={"from": 9}, headers=alice).status_code == 404
    bad = client.get("/v1/preferences/diff", params={"from": -1}, headers=alice)
    assert bad.status_code == 422 and "from" in bad.json()["detail"]


def test_add_without_a_category_guesses_it_from_the_text(
    http: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    client, alice, _ = http
    for text, category in (("film grain", "texture"), ("teal palette", "color")):
        added = client.post(
            "/v1/preferences", json={"text": text, "polarity": "like"}, headers=alice
        )
        assert added.status_code == 201, added.text
        assert added.json()["category"] == category
