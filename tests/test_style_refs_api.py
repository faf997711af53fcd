"""Style references over HTTP (issue 23): upload limits, ownership, and a generation that
names uploaded references, on the real app (TestClient) with the tiny model and its adapter."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.settings import Settings
from generation.reference_ids import MAX_REFERENCE_BYTES
from tests.doubles.admin_client import admin_app, new_user


def image(kind: str, size: tuple[int, int] = (48, 48), colour: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (colour, 20, 200)).save(buffer, kind)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    service: tuple[TestClient, Settings]
    with admin_app(tmp_path_factory.mktemp("refs") / "data") as service:
        yield service[0]


def upload(client: TestClient, headers: dict[str, str], data: bytes, kind: str = "image/png"):  # type: ignore[no-untyped-def]
    return client.post("/v1/references", content=data, headers={**headers, "Content-Type": kind})


def test_upload_list_fetch_delete_and_another_users_id_is_404(client: TestClient) -> None:
    _, alice = new_user(client)
    _, bob = new_user(client)
    ids = []
    for kind, media in (("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")):
        answer = upload(client, alice, image(kind), media)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    again = upload(client, alice, image("PNG"))
    assert again.json()["id"] == ids[0]  # the same bytes: the same reference
    listed = client.get("/v1/references", headers=alice).json()
    assert sorted(r["id"] for r in listed) == sorted(ids)
    assert client.get("/v1/references", headers=bob).json() == []
    fetched = client.get(f"/v1/references/{ids[1]}", headers=alice)
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/jpeg"
    assert fetched.content == image("JPEG")
    for method in (client.get, client.delete):
        assert method(f"/v1/references/{ids[0]}", headers=bob).status_code == 404
    refused = client.post(
        "/v1/generations", headers=bob, json={"prompt": "a fox", "style_ref_ids": [ids[0]]}
    )
    assert refused.status_code == 404, refused.text
    assert client.delete(f"/v1/references/{ids[0]}", headers=alice).status_code == 204
    assert client.get(f"/v1/references/{ids[0]}", headers=alice).status_code == 404


def bomb() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (30000, 30000)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "kind", "status", "words"),
    [
        (b"hello, not an image", "image/png", 422, "not an image"),
        (image("PNG", (256, 256))[:200], "image/png", 422, "damaged or truncated"),
        (bomb(), "image/png", 422, "30000×30000"),
        (image("PNG", (4100, 8)), "image/png", 422, "at most 4096×4096"),
        (image("GIF"), "image/png", 422, "not a PNG, JPEG or WebP"),
        (image("PNG"), "text/plain", 422, "Content-Type"),
        (b"\0" * (MAX_REFERENCE_BYTES + 1), "image/png", 413, "over"),
    ],
)
def test_bad_uploads_are_refused_in_one_line_and_nothing_is_kept(
    client: TestClient, data: bytes, kind: str, status: int, words: str
) -> None:
    _, headers = new_user(client)
    answer = upload(client, headers, data, kind)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["detail"] and "\n" not in answer.json()["detail"]
    assert client.get("/v1/references", headers=headers).json() == []


def test_a_generation_uses_the_uploaded_references(client: TestClient) -> None:
    _, headers = new_user(client)
    ref = upload(client, headers, image("PNG", colour=10)).json()["id"]
    body = {
        "prompt": "a fox",
        "steps": 2,
        "width": 64,
        "height": 64,
        "seed": 3,
        "style_ref_ids": [ref],
    }
    body["style_ref_mode"] = "style+layout"
    accepted = client.post("/v1/generations", headers=headers, json=body)
    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = client.get(f"/v1/generations/{accepted.json()['id']}", headers=headers).json()
        if status["status"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert status["status"] == "done", status
    refs = status["style_refs"]
    assert (refs["images"], refs["origin"], refs["mode"]) == ([ref], "request", "style+layout")
    bad = client.post("/v1/generations", headers=headers, json={**body, "style_ref_ids": ["nope"]})
    assert bad.status_code == 422


def test_the_generation_schema_offers_the_reference_settings(
    client: TestClient, tmp_path: Path
) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["GenerationCreate"]
    fields = schema["properties"]
    assert {"style_ref_scale", "style_ref_mode", "style_ref_ids"} <= set(fields)
