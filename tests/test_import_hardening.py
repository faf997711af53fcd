"""A shared profile file cannot break an account, and what PostgreSQL refuses is a 422 first.

Every test runs on SQLite and on the machine's PostgreSQL (a fresh database), through the real
service (FastAPI's TestClient, the tiny model in the in-process worker): a refused import writes
no version and no token, a broken token already stored never fails a generation, numbers are
bounded by their columns, text holds no NUL, control or bidi-override character and is NFC.
"""

from __future__ import annotations

import base64
import json
import pickle
import re
import struct
import time
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import save as save_safetensors
from sqlalchemy.orm import Session

from preference_store.models import utc_now
from preference_store.styles import StyleTokenRow
from tests.doubles.admin_client import admin_app, new_user

BIG = 2**31  # one past PostgreSQL's INTEGER


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("imports") / "data"
    with admin_app(data, request.param, raise_server_exceptions=False) as (client, _):
        yield client


def post_json(client: TestClient, url: str, headers: dict[str, str], body: Any) -> Any:
    """As a client that writes NaN/Infinity literals (Python's json does) sends it."""
    return client.post(
        url, content=json.dumps(body), headers={**headers, "Content-Type": "application/json"}
    )


def blob(**tensors: torch.Tensor) -> bytes:
    return save_safetensors({k: v.contiguous() for k, v in tensors.items()})


def token(data: bytes, **record: Any) -> dict[str, Any]:
    fields = {"model": "tiny", "family": "clip_l:32", "name": "<shared-style>"}
    return {**fields, **record, "blob": base64.b64encode(data).decode("ascii")}


def document(user: str, tokens: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "schema": "tastemaker.profile",
        "schema_version": 1,
        "user_id": user,
        "attributes": [],
        "style_tokens": tokens,
        **extra,
    }


def versions(client: TestClient, headers: dict[str, str]) -> list[int]:
    return [v["version"] for v in client.get("/v1/preferences/versions", headers=headers).json()]


def generate(client: TestClient, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    body = {"prompt": "a lighthouse", "steps": 1, "seed": 3, "width": 64, "height": 64, **extra}
    accepted = client.post("/v1/generations", headers=headers, json=body)
    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(
            f"/v1/generations/{accepted.json()['id']}", headers=headers
        ).json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.05)
    raise TimeoutError("the generation never finished")


def lying_header() -> bytes:
    """A safetensors header that promises a [1, 32] float32 matrix and holds 4 bytes."""
    header = json.dumps({"clip_l": {"dtype": "F32", "shape": [1, 32], "data_offsets": [0, 128]}})
    return struct.pack("<Q", len(header)) + header.encode() + b"\0\0\0\0"


def good() -> bytes:
    return blob(clip_l=torch.randn(1, 32))


HOSTILE = {
    "garbage": (token(b"\x00garbage" * 10), "not a safetensors file"),
    "pickle": (token(pickle.dumps({"clip_l": [0.0] * 32})), "not a safetensors file"),
    "lying header": (token(lying_header()), "not where its header says"),
    "width 4096": (token(blob(clip_l=torch.randn(1, 4096))), "expected [K, 32]"),
    "K = 5000": (token(blob(clip_l=torch.randn(5000, 32))), "1 ≤ K ≤ 75"),
    "NaN": (token(blob(clip_l=torch.full((1, 32), float("nan")))), "NaN or infinity"),
    "SDXL pair": (
        token(blob(clip_l=torch.randn(1, 32), clip_g=torch.randn(1, 32))),
        "needs clip_l",
    ),
    "int dtype": (token(blob(clip_l=torch.zeros(1, 32, dtype=torch.int32))), "not float32"),
    "3-D": (token(blob(clip_l=torch.randn(1, 1, 32))), "expected [K, 32]"),
    "10,000 dimensions": (token(blob(clip_l=torch.zeros([1] * 10_000))), "10000 dimensions"),
    "a family that lies": (token(good(), family="clip_l:768"), "expected [K, 768]"),
    "width 4096, said": (
        token(blob(clip_l=torch.randn(1, 4096)), family="clip_l:4096"),
        "at most 2048 wide",
    ),
    "NaN loss": (token(good(), losses=[float("nan")]), "losses"),
    "NUL in the name": (token(good(), name="a\x00b"), "U+0000"),
    "bidi override": (token(good(), name="\u202eelyts"), "U+202E"),
    "huge steps": (token(good(), steps=BIG), "steps"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_bad_style_token_in_an_import_is_422_and_nothing_is_written(
    client: TestClient, case: str
) -> None:
    user, headers = new_user(client)
    bad, message = HOSTILE[case]
    body = document(user, [token(good()), bad], attributes=[])
    refused = post_json(client, "/v1/preferences/import", headers, body)
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith("style token 2") and message in detail, detail
    assert len(detail) < 300 and "\n" not in detail
    assert versions(client, headers) == []  # no version ...
    assert client.get("/v1/styles", headers=headers).json() == []  # ... and no token, not even #1
    assert client.get("/v1/preferences/export", headers=headers).status_code == 200


def test_after_every_hostile_import_the_account_imports_and_generates(client: TestClient) -> None:
    """The outside attack's order (issue 25): one account sent every hostile file in a row;
    each is refused, and then a good file imports and its token is used by a generation."""
    user, headers = new_user(client)
    for case, (bad, _message) in HOSTILE.items():
        refused = post_json(client, "/v1/preferences/import", headers, document(user, [bad]))
        assert refused.status_code == 422, (case, refused.text)
    accepted = post_json(client, "/v1/preferences/import", headers, document(user, [token(good())]))
    assert accepted.status_code == 200, accepted.text
    assert (
        versions(client, headers) == [1]
        and len(client.get("/v1/styles", headers=headers).json()) == 1
    )
    job = generate(client, headers)
    assert job["status"] == "done" and job["plan"]["style_token"], job
    assert client.get("/v1/preferences/export", headers=headers).status_code == 200


def test_imported_tokens_get_our_ids_and_can_be_deleted(client: TestClient) -> None:
    user, headers = new_user(client)
    body = document(
        user,
        [
            token(good(), id="a.dotted.id"),
            token(blob(clip_l=torch.randn(2, 32)), id="x" * 100, name="<another>"),
        ],
    )
    imported = post_json(client, "/v1/preferences/import", headers, body)
    assert imported.status_code == 200, imported.text
    listed = client.get("/v1/styles", headers=headers).json()
    assert len(listed) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", t["id"]) for t in listed)
    assert client.get("/v1/preferences/export", headers=headers).status_code == 200
    for stored in listed:
        assert client.delete(f"/v1/styles/{stored['id']}", headers=headers).status_code == 204
    assert client.get("/v1/styles", headers=headers).json() == []


_sequence = iter(range(10_000))


def store_raw_token(client: TestClient, user: str, token_id: str, data: bytes) -> None:
    """A token as an import stored it before tokens were checked (straight into the table)."""
    engine = client.app.state.styles.engine  # type: ignore[attr-defined]
    record = {"id": token_id, "user_id": user, "model": "tiny", "family": "clip_l:32"}
    record |= {"name": "<old>", "losses": [float("nan")]}
    with Session(engine) as session, session.begin():
        session.add(
            StyleTokenRow(
                id=token_id,
                user_id=user,
                model="tiny",
                family="clip_l:32",
                negative=False,
                created_at=utc_now(),
                record=json.dumps(record),
                blob=data,
                sequence=next(_sequence),
            )
        )


def test_a_broken_stored_token_is_skipped_and_generation_still_works(client: TestClient) -> None:
    user, headers = new_user(client)
    store_raw_token(client, user, "old.garbage", b"\x00garbage" * 10)
    store_raw_token(
        client, user, "old.pair", blob(clip_l=torch.randn(1, 32), clip_g=torch.randn(1, 32))
    )
    for weight in ({}, {"style_weight": 0.0}):
        job = generate(client, headers, **weight)
        assert job["status"] == "done", job["error"]
        skipped = " ".join(job["plan"]["style_skipped"])
        assert "old.garbage" in skipped and "old.pair" in skipped, job["plan"]
        assert job["plan"]["style_token"] == ""
    exported = client.get("/v1/preferences/export", headers=headers)
    assert exported.status_code == 200 and exported.json().get("style_tokens", []) == []
    listed = {t["id"] for t in client.get("/v1/styles", headers=headers).json()}
    assert listed == {"old.garbage", "old.pair"}
    for token_id in listed:
        assert client.delete(f"/v1/styles/{token_id}", headers=headers).status_code == 204


def test_an_import_with_a_non_finite_aesthetic_embedding_writes_no_version(
    client: TestClient,
) -> None:
    user, headers = new_user(client)
    added = client.post(
        "/v1/preferences", headers=headers, json={"text": "teal", "polarity": "like"}
    )
    assert added.status_code == 201
    client.app.state.store.put_aesthetic_embedding(user, 1, "clip-x", [0.5] * 8)  # type: ignore[attr-defined]
    exported = client.get("/v1/preferences/export", headers=headers).json()
    assert list(exported["aesthetic_embeddings"]) == ["clip-x"]
    for bad in (float("inf"), float("nan")):
        exported["aesthetic_embeddings"]["clip-x"] = [bad] * 8
        exported["attributes"][0]["text"] = "gold"  # a real change: it would make a version
        refused = post_json(client, "/v1/preferences/import", headers, exported)
        assert refused.status_code == 422, refused.text
        assert "aesthetic_embeddings" in refused.json()["detail"]
        assert versions(client, headers) == [1]
    assert generate(client, headers)["status"] == "done"


def test_numbers_beyond_their_columns_are_422(client: TestClient) -> None:
    _user, headers = new_user(client)
    client.post("/v1/preferences", headers=headers, json={"text": "teal", "polarity": "like"})
    for method, url in (
        ("POST", f"/v1/preferences/versions/{BIG}/restore"),
        ("GET", f"/v1/preferences/versions/{BIG}"),
        ("GET", f"/v1/preferences/diff?from={BIG}"),
        ("GET", f"/v1/preferences/diff?from=0&to={BIG}"),
        ("POST", f"/v1/onboarding/abc/messages/{BIG}/corrections"),
    ):
        answer = client.request(
            method, url, headers=headers, json={"attribute_index": 0, "action": "drop"}
        )
        assert answer.status_code == 422, (url, answer.text)
    assert versions(client, headers) == [1]


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\u202e", "\ud800"])
def test_text_that_cannot_be_stored_is_422_everywhere(client: TestClient, bad: str) -> None:
    _user, headers = new_user(client)
    text = f"teal{bad} palette"
    added = post_json(client, "/v1/preferences", headers, {"text": text, "polarity": "like"})
    assert added.status_code == 422 and "text" in added.json()["detail"], added.text
    job = generate(client, headers)
    assert job["status"] == "done"
    feedback = post_json(
        client,
        f"/v1/generations/{job['id']}/feedback",
        headers,
        {"liked": True, "comment": f"love the {text}"},
    )
    assert feedback.status_code == 422 and "comment" in feedback.json()["detail"], feedback.text
    started = client.post("/v1/onboarding", headers=headers)
    assert started.status_code == 201, started.text
    session = started.json()["id"]
    said = client.post(
        f"/v1/onboarding/{session}/messages", headers=headers, json={"text": "love the teal"}
    )
    assert said.status_code == 200, said.text
    correction = post_json(
        client,
        f"/v1/onboarding/{session}/messages/{said.json()['message_id']}/corrections",
        headers,
        {"attribute_index": 0, "action": "edit", "text": text},
    )
    assert correction.status_code == 422 and "text" in correction.json()["detail"]
    assert versions(client, headers) == []
    assert client.get("/v1/me", headers=headers).status_code == 200


def test_composed_and_decomposed_text_is_one_attribute(client: TestClient) -> None:
    _user, headers = new_user(client)
    composed = unicodedata.normalize("NFC", "café lighting")
    decomposed = unicodedata.normalize("NFD", "café lighting")
    assert composed != decomposed
    first = client.post(
        "/v1/preferences", headers=headers, json={"text": composed, "polarity": "like"}
    )
    second = client.post(
        "/v1/preferences", headers=headers, json={"text": decomposed, "polarity": "like"}
    )
    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    exported = client.get("/v1/preferences/export", headers=headers).json()
    assert [a["text"] for a in exported["attributes"]] == [composed]
    found = client.get("/v1/preferences/search", headers=headers, params={"q": decomposed})
    assert found.status_code == 200 and found.json()[0]["attribute"]["text"] == composed
