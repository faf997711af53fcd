"""`GET /v1/generations` (issue 28.6): the caller's generations, newest first, each with the
body that makes it again; another person's never show; the body POSTed again makes the same
pixels."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from tests.doubles.admin_client import admin_app, new_user
from tests.test_img2img_entry import finish, png_bytes, upload


def test_the_list_is_yours_newest_first_and_each_body_makes_it_again(tmp_path: Path) -> None:
    with admin_app(tmp_path / "data") as (client, _settings):
        _alice, alice = new_user(client)
        _bob, bob = new_user(client)
        init = upload(client, alice, png_bytes((200, 90, 40)))
        base = {"prompt": "a fox", "steps": 2, "width": 64, "height": 64, "aesthetic_steps": 0}
        asked = [
            {**base, "seed": 4, "sampler": "Euler a"},
            {**base, "prompt": "a cat", "init_image": init, "strength": 0.5},
        ]
        ids = []
        for body in asked:
            accepted = client.post("/v1/generations", headers=alice, json=body)
            assert accepted.status_code == 202, accepted.text
            ids.append(accepted.json()["id"])
            assert finish(client, alice, ids[-1])["status"] == "done"
        theirs = client.post("/v1/generations", headers=bob, json=base).json()["id"]

        listed = client.get("/v1/generations", headers=alice).json()
        assert [g["id"] for g in listed] == ids[::-1]  # newest first, bob's not among them
        assert [g["id"] for g in client.get("/v1/generations?limit=1", headers=alice).json()] == [
            ids[1]
        ]
        assert theirs in [g["id"] for g in client.get("/v1/generations", headers=bob).json()]
        assert client.get("/v1/generations?limit=0", headers=alice).status_code == 422
        img2img = listed[0]["request"]
        assert img2img["init_image"] == init and img2img["strength"] == 0.5
        assert img2img["prompt"] == "a cat" and img2img["mode"] == "embeds"

        # The body handed back makes the same image again (the seed was given here).
        first = listed[1]
        assert first["request"]["sampler"] == "Euler a" and first["request"]["seed"] == 4
        again = client.post("/v1/generations", headers=alice, json=first["request"])
        assert again.status_code == 202, again.text
        state = finish(client, alice, again.json()["id"])

        def pixels(url: str) -> np.ndarray:
            data = client.get(url, headers=alice).content
            return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

        assert np.array_equal(pixels(state["image_urls"][0]), pixels(first["image_urls"][0]))


def test_the_body_keeps_a_blend_and_loras_so_a_re_roll_keeps_them() -> None:
    """A blend and LoRAs are fields of their own (not flat options): the history's body must
    carry them, or the page's re-roll would quietly drop them."""
    from api.generation_body import body_of
    from api.generation_schemas import GenerationCreate
    from generation.blend_parts import BlendPart
    from generation.request import GenerationRequest
    from generation.settings import GenerationSettings

    settings = GenerationSettings(loras=[{"name": "ink", "weight": 0.8}])
    blend = [
        BlendPart(name="default", owner="ada", weight=0.7),
        BlendPart(name="zines", owner="~" + "0" * 32, weight=0.3),
    ]
    request = GenerationRequest(prompt="a boat", settings=settings, blend=blend)
    body = body_of(request)
    assert body["blend"] == {"default": 0.7, "zines": 0.3}  # names, never owner keys
    assert body["loras"] == [{"name": "ink", "weight": 0.8}]
    GenerationCreate.model_validate(body)  # a body the route accepts as it is


def test_each_generation_names_its_profile_so_a_re_roll_goes_back_there(tmp_path: Path) -> None:
    """The job records the profile's owner key; the list names it (a rename shows the new name,
    a deleted profile None), so the page re-rolls with `?profile=` that, not the one picked."""
    with admin_app(tmp_path / "data") as (client, _settings):
        _alice, alice = new_user(client)
        assert client.post("/v1/profiles", headers=alice, json={"name": "zines"}).status_code == 201
        base = {"prompt": "a fox", "steps": 1, "width": 64, "height": 64, "aesthetic_steps": 0}
        made = {}
        for profile in ("zines", "default"):
            accepted = client.post(f"/v1/generations?profile={profile}", headers=alice, json=base)
            assert accepted.status_code == 202, accepted.text
            made[profile] = accepted.json()["id"]
            assert finish(client, alice, made[profile])["status"] == "done"

        listed = client.get("/v1/generations", headers=alice).json()
        assert {g["id"]: g["profile"] for g in listed} == {
            made["zines"]: "zines",
            made["default"]: "default",
        }
        one = client.get(f"/v1/generations/{made['zines']}", headers=alice).json()
        assert one["profile"] == "zines"

        renamed = client.post("/v1/profiles/zines/rename", headers=alice, json={"name": "inks"})
        assert renamed.status_code == 200, renamed.text
        assert client.get(f"/v1/generations/{made['zines']}", headers=alice).json()["profile"] == (
            "inks"
        )
        assert client.delete("/v1/profiles/inks", headers=alice).status_code == 204
        assert client.get(f"/v1/generations/{made['zines']}", headers=alice).json()["profile"] is (
            None
        )
