"""Style tokens over real HTTP (uvicorn on 127.0.0.1): train as a job with progress events, list,
export for diffusers, generate with and without the token, delete; bad input is a clear 4xx."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import torch
from safetensors.torch import load as load_safetensors

from generation.tiny import build_tiny_sd
from tests.doubles.forker import Forker
from tests.doubles.uvicorn_server import ForkedUvicornServer, UvicornServer
from tests.test_api_journey import new_user, onboard, sse_events


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, service_forker: Forker, shared_cache_dir: str
) -> Iterator[UvicornServer]:
    service = ForkedUvicornServer(
        service_forker,
        cache_dir=shared_cache_dir,
        data_dir=tmp_path_factory.mktemp("styles") / "data",
    )
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def http(server: UvicornServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=120) as client:
        yield client


def generate(http: httpx.Client, auth: dict[str, str], **extra: object) -> dict:
    body = {"prompt": "a lighthouse", "steps": 2, "seed": 3, "width": 64, "height": 64, **extra}
    accepted = http.post("/v1/generations", headers=auth, json=body)
    assert accepted.status_code == 202, accepted.text
    events = sse_events(http, accepted.json()["events_url"], auth)
    assert events[-1][0] == "done", events
    return events[-1][1]


@pytest.mark.slow
def test_train_list_export_generate_delete(http: httpx.Client) -> None:
    alice = new_user(http, "alice")
    bob = new_user(http, "bob")
    onboard(http, alice)

    # bad input first: nothing queued, nothing stored
    for body, message in (
        ({"steps": 0}, "steps: Input should be greater than or equal to 1"),
        ({"steps": 100_000}, "steps: Input should be less than or equal to 10000"),
        ({"vectors": 99}, "vectors: Input should be less than or equal to 8"),
    ):
        refused = http.post("/v1/styles", headers=alice, json=body)
        assert refused.status_code == 422 and message in refused.text, refused.text
    no_images = http.post("/v1/styles", headers=bob, json={"steps": 5})
    assert no_images.status_code == 422 and "has 0" in no_images.text
    assert http.get("/v1/styles", headers=alice).json() == []

    before = generate(http, alice)
    assert before["plan"]["style_token"] == ""

    accepted = http.post("/v1/styles", headers=alice, json={"steps": 6, "lr": 0.05})
    assert accepted.status_code == 202, accepted.text
    events = sse_events(http, accepted.json()["events_url"], alice)
    assert events[-1][0] == "done", events
    assert any(name == "progress" and data["total"] == 6 for name, data in events)
    (token,) = http.get("/v1/styles", headers=alice).json()
    assert token["default"] is True and token["cancelled"] is False
    assert token["steps"] == 6 and len(token["losses"]) == 6 and token["image_count"] >= 1
    assert token["model"] == "tiny" and token["name"] == "<alice-style>"
    assert http.get("/v1/styles", headers=bob).json() == []
    assert http.get(f"/v1/styles/{token['id']}/export", headers=bob).status_code == 404

    exported = http.get(f"/v1/styles/{token['id']}/export?format=diffusers", headers=alice)
    assert exported.status_code == 200
    vectors = load_safetensors(exported.content)["<alice-style>"]
    pipe = build_tiny_sd()
    pipe.load_textual_inversion(vectors, token="<a>")
    row = pipe.text_encoder.get_input_embeddings().weight[
        pipe.tokenizer.convert_tokens_to_ids("<a>")
    ]
    assert torch.equal(row, vectors[0])
    a1111 = http.get(f"/v1/styles/{token['id']}/export?format=a1111&suffix=.pt", headers=alice)
    assert a1111.status_code == 200 and a1111.content[:2] == b"PK"  # torch.save's zip

    styled = generate(http, alice)
    assert "<alice-style>" in styled["plan"]["style_token"]
    off = generate(http, alice, style_weight=0.0)
    assert off["plan"]["style_token"] == ""
    assert (
        http.post(
            "/v1/generations", headers=alice, json={"prompt": "x", "style_weight": 5}
        ).status_code
        == 422
    )

    assert http.delete(f"/v1/styles/{token['id']}", headers=bob).status_code == 404
    assert http.delete(f"/v1/styles/{token['id']}", headers=alice).status_code == 204
    assert http.get("/v1/styles", headers=alice).json() == []
