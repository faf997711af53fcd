"""A hostile or careless client cannot get a 5xx or break its own profile: secrets compared
as bytes, streamed bodies bounded, imports held to the same rules as every route."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.wiring import Components


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Settings]]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("hardening") / "data",
        admin_token="admin-secret",
        max_attributes=20,
    )
    Components(settings)
    with TestClient(create_app(settings)) as client:
        yield client, settings


@pytest.fixture()
def client(service: tuple[TestClient, Settings]) -> TestClient:
    return service[0]


_counter = iter(range(10_000))


def new_user(client: TestClient) -> tuple[str, dict[str, str]]:
    name = f"user{next(_counter)}"
    made = client.post(
        "/v1/users", json={"id": name}, headers={"Authorization": "Bearer admin-secret"}
    )
    assert made.status_code == 201, made.text
    return name, {"Authorization": f"Bearer {made.json()['token']}"}


# -- 4: secrets ----------------------------------------------------------------------------


def test_a_non_ascii_bearer_token_is_refused_not_a_server_error(client: TestClient) -> None:
    for token in ("adm\u00efn-secret", "\u00e9", "admin-secret\u00ff", "\u6f22\u5b57"):
        raw = f"Bearer {token}".encode()  # as a client on the wire sends it
        answer = client.post("/v1/users", json={"id": "mallory"}, headers={"Authorization": raw})
        assert answer.status_code == 403, answer.text
        assert answer.json()["detail"].startswith("creating users needs the admin token")


# -- 5: streamed bodies ----------------------------------------------------------------------


def test_a_streamed_oversized_body_is_413_like_an_announced_one(client: TestClient) -> None:
    _, headers = new_user(client)
    chunk = b" " * 65_536

    def stream() -> Iterator[bytes]:
        yield b'{"schema": "tastemaker.profile", "padding": "'
        for _ in range(20):  # 1.25 MiB, never announced
            yield chunk
        yield b'"}'

    streamed = client.post(
        "/v1/preferences/import",
        content=stream(),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert "content-length" not in {k.lower() for k in streamed.request.headers}
    assert streamed.status_code == 413, streamed.text
    assert "over 1048576 bytes" in streamed.json()["detail"]
    announced = client.post("/v1/preferences/import", content=b" " * 1_100_000, headers=headers)
    assert announced.status_code == 413
    assert client.get("/v1/me", headers=headers).status_code == 200  # the service is fine
