"""Named profiles (issue 26): a person keeps several tastes, each with its own attributes,
versions and tokens, isolated from the default and from everyone else; export and import keep
them all; the storage quota counts them together.

Through the real service (FastAPI's TestClient over SQLite and over a fresh PostgreSQL database,
chromadb and the MiniLM embedder) and the real CLI; a small quota so that a few requests reach
it.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from safetensors.torch import save as save_safetensors

from api.settings import Settings
from preference_store.models import ImageReaction
from preference_store.styles import StyleRecord
from tests.cli_runner import run_cli
from tests.doubles.admin_client import admin_app, new_user

QUOTA = {"max_attributes": 5, "max_style_tokens": 2, "max_profiles": 3}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("profiles") / "data"
    with admin_app(data, request.param, **QUOTA) as (client, _):
        yield client


def add(client: TestClient, headers: dict[str, str], text: str, polarity: str, **query: str):
    return client.post(
        "/v1/preferences",
        headers=headers,
        params=query,
        json={"text": text, "polarity": polarity, "category": "color"},
    )


def texts(client: TestClient, headers: dict[str, str], **query: str) -> list[tuple[str, str]]:
    listed = client.get("/v1/preferences/export", headers=headers, params=query)
    assert listed.status_code == 200, listed.text
    return sorted((a["text"], a["polarity"]) for a in listed.json()["attributes"])


def token(seed: int) -> dict[str, Any]:
    vectors = save_safetensors(
        {"clip_l": torch.randn(1, 32, generator=torch.Generator().manual_seed(seed))}
    )
    fields = {"model": "tiny", "family": "clip_l:32", "name": "<zine-style>"}
    return {**fields, "blob": base64.b64encode(vectors).decode("ascii")}


def test_profiles_are_created_listed_renamed_and_deleted(client: TestClient) -> None:
    _user, headers = new_user(client)
    made = client.post("/v1/profiles", headers=headers, json={"name": "zines"})
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "zines" and made.json()["attribute_count"] == 0
    assert client.post("/v1/profiles", headers=headers, json={"name": "zines"}).status_code == 409
    bad = client.post("/v1/profiles", headers=headers, json={"name": "no spaces"})
    assert bad.status_code == 422 and "name" in bad.json()["detail"]
    assert client.post("/v1/profiles", headers=headers, json={"name": "default"}).status_code == 409
    assert client.post("/v1/profiles", headers=headers, json={"name": "work"}).status_code == 201
    full = client.post("/v1/profiles", headers=headers, json={"name": "third"})
    assert full.status_code == 422 and "max_profiles" in full.json()["detail"]

    renamed = client.post("/v1/profiles/work/rename", headers=headers, json={"name": "office"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "office"
    names = [p["name"] for p in client.get("/v1/profiles", headers=headers).json()]
    assert names == ["default", "office", "zines"]
    away = client.post("/v1/profiles/default/rename", headers=headers, json={"name": "x"})
    assert away.status_code == 422 and "default" in away.json()["detail"]
    assert client.delete("/v1/profiles/default", headers=headers).status_code == 422
    assert client.delete("/v1/profiles/nope", headers=headers).status_code == 404

    assert add(client, headers, "muted teal", "like", profile="office").status_code == 201
    assert client.delete("/v1/profiles/office", headers=headers).status_code == 204
    names = [p["name"] for p in client.get("/v1/profiles", headers=headers).json()]
    assert names == ["default", "zines"]
    gone = client.get("/v1/preferences", headers=headers, params={"profile": "office"})
    assert gone.status_code == 404 and "office" in gone.json()["detail"]
    # A profile made again under the old name starts empty: nothing of the deleted one is left.
    assert client.post("/v1/profiles", headers=headers, json={"name": "office"}).status_code == 201
    assert texts(client, headers, profile="office") == []


def test_a_profile_is_its_own_and_nobody_elses(client: TestClient) -> None:
    _alice, alice = new_user(client)
    _bob, bob = new_user(client)
    client.post("/v1/profiles", headers=alice, json={"name": "zines"})
    assert add(client, alice, "neon colors", "like").status_code == 201
    zine = add(client, alice, "neon colors", "dislike", profile="zines")
    assert zine.status_code == 201, zine.text

    assert texts(client, alice) == [("neon colors", "like")]
    assert texts(client, alice, profile="zines") == [("neon colors", "dislike")]
    # The default cannot see, edit or delete the zines attribute by its id.
    zine_id = zine.json()["id"]
    patched = client.patch(f"/v1/preferences/{zine_id}", headers=alice, json={"strength": 0.1})
    assert patched.status_code == 404
    assert client.delete(f"/v1/preferences/{zine_id}", headers=alice).status_code == 404

    # Bob has no zines: Alice's name resolves within Bob's own account, so it is a 404.
    for path in ("/v1/preferences", "/v1/preferences/versions", "/v1/styles"):
        refused = client.get(path, headers=bob, params={"profile": "zines"})
        assert refused.status_code == 404, (path, refused.text)
    made = client.post(
        "/v1/generations", headers=bob, params={"profile": "zines"}, json={"prompt": "a boat"}
    )
    assert made.status_code == 404, made.text
    client.post("/v1/profiles", headers=bob, json={"name": "zines"})
    assert texts(client, bob, profile="zines") == []
    bob_patch = client.patch(
        f"/v1/preferences/{zine_id}", headers=bob, params={"profile": "zines"}, json={}
    )
    assert bob_patch.status_code == 404
    assert texts(client, alice, profile="zines") == [("neon colors", "dislike")]


def test_export_and_import_keep_every_profile(client: TestClient) -> None:
    alice_id, alice = new_user(client)
    client.post("/v1/profiles", headers=alice, json={"name": "zines"})
    add(client, alice, "soft pastel palette", "like")
    add(client, alice, "harsh neon", "like", profile="zines")
    body = {"schema": "tastemaker.profile", "schema_version": 1, "user_id": alice_id}
    with_token = client.post(
        "/v1/preferences/import",
        headers=alice,
        params={"profile": "zines"},
        json={**texts_document(client, alice, "zines"), "style_tokens": [token(1)]},
    )
    assert with_token.status_code == 200, with_token.text

    exported = client.get("/v1/preferences/export", headers=alice).json()
    assert set(exported["profiles"]) == {"zines"}
    assert len(exported["profiles"]["zines"]["style_tokens"]) == 1

    _carol, carol = new_user(client)
    imported = client.post("/v1/preferences/import", headers=carol, json=exported)
    assert imported.status_code == 200, imported.text
    assert [p["name"] for p in client.get("/v1/profiles", headers=carol).json()] == [
        "default",
        "zines",
    ]
    assert texts(client, carol) == [("soft pastel palette", "like")]
    assert texts(client, carol, profile="zines") == [("harsh neon", "like")]
    styles = client.get("/v1/styles", headers=carol, params={"profile": "zines"}).json()
    assert [s["name"] for s in styles] == ["<zine-style>"]
    assert client.get("/v1/styles", headers=carol).json() == []
    # Importing the same again changes nothing, in any profile.
    before = [p["version"] for p in client.get("/v1/profiles", headers=carol).json()]
    again = client.get("/v1/preferences/export", headers=carol).json()
    assert client.post("/v1/preferences/import", headers=carol, json=again).status_code == 200
    assert [p["version"] for p in client.get("/v1/profiles", headers=carol).json()] == before

    # An older document (no profiles) still imports into the default profile.
    dave_id, dave = new_user(client)
    old = {
        **body,
        "user_id": dave_id,
        "attributes": [{"id": "a1", "text": "fog", "polarity": "like"}],
    }
    assert client.post("/v1/preferences/import", headers=dave, json=old).status_code == 200
    assert texts(client, dave) == [("fog", "like")]
    assert [p["name"] for p in client.get("/v1/profiles", headers=dave).json()] == ["default"]
    # A named profile's own export goes back into a profile of that name.
    one = client.get("/v1/preferences/export", headers=alice, params={"profile": "zines"}).json()
    assert one["profile"] == "zines" and one["user_id"] == alice_id and not one.get("profiles")
    assert client.post("/v1/preferences/import", headers=dave, json=one).status_code == 200
    assert texts(client, dave, profile="zines") == [("harsh neon", "like")]
    assert texts(client, dave) == [("fog", "like")]


def texts_document(client: TestClient, headers: dict[str, str], profile: str) -> dict[str, Any]:
    document = client.get(
        "/v1/preferences/export", headers=headers, params={"profile": profile}
    ).json()
    return {k: v for k, v in document.items() if k != "profile"}


def test_the_quota_counts_all_of_a_persons_profiles(client: TestClient) -> None:
    user, headers = new_user(client)
    client.post("/v1/profiles", headers=headers, json={"name": "zines"})
    for n in range(3):
        assert add(client, headers, f"colour {n}", "like").status_code == 201
    for n in range(2):
        assert add(client, headers, f"zine colour {n}", "like", profile="zines").status_code == 201
    over = add(client, headers, "one more", "like", profile="zines")
    assert over.status_code == 422 and "max_attributes" in over.json()["detail"]
    assert "all their profiles" in over.json()["detail"]
    assert len(texts(client, headers, profile="zines")) == 2

    body = {"schema": "tastemaker.profile", "schema_version": 1, "user_id": user}
    one = client.post(
        "/v1/preferences/import", headers=headers, json={**body, "style_tokens": [token(1)]}
    )
    assert one.status_code == 200, one.text
    two = client.post(
        "/v1/preferences/import",
        headers=headers,
        params={"profile": "zines"},
        json={**body, "style_tokens": [token(2), token(3)]},
    )
    assert two.status_code == 422 and "max_style_tokens" in two.json()["detail"]
    assert client.get("/v1/styles", headers=headers, params={"profile": "zines"}).json() == []

    # A whole person's document over the quota, all profiles together, writes nothing.
    fresh, fresh_headers = new_user(client)
    three = [{"id": f"a{n}", "text": f"colour {n}", "polarity": "like"} for n in range(3)]
    crowded = {
        **body,
        "user_id": fresh,
        "attributes": three,
        "profiles": {"zines": {"user_id": fresh, "attributes": three}},
    }
    refused = client.post("/v1/preferences/import", headers=fresh_headers, json=crowded)
    assert refused.status_code == 422 and "max_attributes" in refused.json()["detail"]
    assert [p["name"] for p in client.get("/v1/profiles", headers=fresh_headers).json()] == [
        "default"
    ]
    assert client.get("/v1/preferences/versions", headers=fresh_headers).json() == []


def test_the_cli_keeps_profiles_apart(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "users", "create", "ada").code == 0
    made = run_cli(capsys, "profiles", "create", "ada", "zines", "work")
    assert made.code == 0 and "created profile 'work'" in made.stdout
    for args, said in (
        (("profiles", "create", "ada", "bad name"), "a profile name is"),
        (("profiles", "create", "ada", "zines"), "already exists"),
        (("profiles", "delete", "ada", "default"), "cannot be deleted"),
        (("profiles", "rename", "ada", "default", "x"), "keeps its name"),
        (("profiles", "list", "nobody"), "does not exist"),
        (("prefs", "show", "ada", "--profile", "nope"), "(`tastemaker profiles list ada`"),
    ):
        refused = run_cli(capsys, *args)
        assert refused.code == 1 and said in " ".join(refused.stderr.split()), (args, refused)
        assert len(refused.stderr.strip().splitlines()) <= 2  # one line (rich may wrap it)
    assert run_cli(capsys, "profiles", "rename", "ada", "work", "office").code == 0
    assert (
        run_cli(capsys, "prefs", "add", "ada", "like", "grainy film", "--category", "texture").code
        == 0
    )
    zines = ("--profile", "zines")
    assert (
        run_cli(
            capsys, "prefs", "add", "ada", "dislike", "grainy film", "--category", "texture", *zines
        ).code
        == 0
    )
    shown = run_cli(capsys, "prefs", "show", "ada", "--json", *zines)
    assert '"dislike"' in shown.stdout and '"like"' not in shown.stdout
    listed = run_cli(capsys, "profiles", "list", "ada").stdout.splitlines()
    assert [line.split()[0] for line in listed] == ["default", "office", "zines"]
    assert "1 attribute" in listed[2]
    assert run_cli(capsys, "profiles", "delete", "ada", "office").code == 0
    assert "office" not in run_cli(capsys, "profiles", "list", "ada").stdout


def test_the_schema_names_the_profile_of_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    acting = [(path, method) for path in ("/v1/preferences", "/v1/preferences/export", "/v1/styles")
              for method in paths[path]]  # fmt: skip
    acting.append(("/v1/generations", "post"))  # the history (GET) is the person's, every profile
    for path, method in acting:
        names = [p["name"] for p in paths[path][method].get("parameters", [])]
        assert "profile" in names, (path, method)
    assert Settings().max_profiles == 8


def test_a_blend_over_http_weighs_the_callers_own_profiles(client: TestClient) -> None:
    _user, headers = new_user(client)
    _bob, bob = new_user(client)
    client.post("/v1/profiles", headers=headers, json={"name": "zines"})
    add(client, headers, "neon colors", "like")
    add(client, headers, "neon colors", "dislike", profile="zines")
    body = {"prompt": "a boat", "steps": 2, "width": 64, "height": 64, "seed": 1}
    for blend, status, said in (
        ({"default": 0, "zines": 0}, 422, "all zero"),
        ({"default": -1, "zines": 1}, 422, "blend"),
        ({"default": 1, "nope": 1}, 404, "'nope'"),
        ({}, 422, "blend"),
    ):
        refused = client.post("/v1/generations", headers=headers, json={**body, "blend": blend})
        assert refused.status_code == status and said in refused.json()["detail"], refused.text
    theirs = client.post("/v1/generations", headers=bob, json={**body, "blend": {"zines": 1}})
    assert theirs.status_code == 404, theirs.text

    accepted = client.post(
        "/v1/generations", headers=headers, json={**body, "blend": {"default": 3, "zines": 1}}
    )
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()["id"]
    for _ in range(600):  # bounded: the tiny model takes about a second here
        done = client.get(f"/v1/generations/{job}", headers=headers).json()
        if done["status"] not in ("queued", "running"):
            break
        time.sleep(0.2)
    assert done["status"] == "done", done
    plan = done["plan"]
    assert plan["blend"] == {"default": 0.75, "zines": 0.25}
    (neon,) = [d for d in plan["decisions"] if d["text"] == "neon colors"]
    assert neon["polarity"] == "like" and neon["strength"] == pytest.approx(0.35)
    assert any("disliked in zines" in note for note in plan["blend_notes"])


def test_rebuild_over_http_learns_the_token_again_as_a_job(
    client: TestClient, tmp_path: Path
) -> None:
    user, headers = new_user(client)
    assert client.post("/v1/profiles/nope/rebuild", headers=headers).status_code == 404
    nothing = client.post("/v1/profiles/default/rebuild", headers=headers)
    assert nothing.status_code == 409 and "no learned style token" in nothing.json()["detail"]

    # A token learned for another model on two of the profile's liked images.
    store, styles = client.app.state.store, client.app.state.styles  # type: ignore[attr-defined]
    liked = []
    for i, colour in enumerate([(200, 30, 30), (180, 60, 20)]):
        path = tmp_path / f"liked{i}.png"
        Image.new("RGB", (64, 64), colour).save(path)
        liked.append(ImageReaction(image_id=f"liked{i}", path=str(path)))
    store.set_images(user, liked, [])
    old = styles.add(
        StyleRecord(
            user_id=user,
            model="another-model",
            family="clip_l:32",
            name="<old-style>",
            image_ids=["liked0", "liked1"],
            steps=2,
        ),
        base64.b64decode(token(4)["blob"]),
    )
    accepted = client.post("/v1/profiles/default/rebuild", headers=headers)
    assert accepted.status_code == 202, accepted.text
    (job,) = accepted.json()
    for _ in range(600):  # bounded: two tiny training steps
        done = client.get(f"/v1/generations/{job['id']}", headers=headers).json()
        if done["status"] not in ("queued", "running"):
            break
        time.sleep(0.2)
    assert done["status"] == "done", done
    listed = {s["model"]: s for s in client.get("/v1/styles", headers=headers).json()}
    assert set(listed) == {"another-model", "tiny"} and listed["another-model"]["id"] == old.id
    assert listed["tiny"]["image_count"] == 2 and listed["tiny"]["steps"] == 2
