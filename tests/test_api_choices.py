"""Taste from choices over HTTP (issue 22): pairs in an onboarding session, answers, the
ranking with its running agreement, isolation and bad input, and the profile export carrying
it all. Real app (tiny CLIP, real MiniLM, SQLite, built-in gallery)."""
# ruff: noqa: F811  (pytest fixtures imported from tests.test_api_corrections)

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.wiring.services import Components
from tests.test_api_corrections import client  # noqa: F401  (fixture)

WARM = {"sunset-hills", "golden-sea", "desert-noon", "spotlit-figure", "earth-stripes"}
Client = tuple[TestClient, dict[str, dict[str, str]]]


def _warm_answer(pair: dict[str, Any]) -> str:
    if pair["left"]["id"] in WARM:
        return "left"
    return "right" if pair["right"]["id"] in WARM else "neither"


def test_choices_teach_the_ranking_and_each_pair_is_answered_once(client: Client) -> None:
    http, tokens = client
    alice, bob = tokens["alice"], tokens["bob"]
    session = http.post("/v1/onboarding", headers=alice).json()["id"]
    url = f"/v1/onboarding/{session}"

    pair = http.get(f"{url}/pair", headers=alice).json()
    assert set(pair) == {"pair_id", "left", "right", "why"} and pair["why"] is None
    assert (
        pair["left"]["url"] == f"/v1/gallery/{pair['left']['id']}" and pair["right"]["description"]
    )
    assert http.get(f"{url}/pair", headers=alice).json() == pair  # the same until answered

    # Another user's session is not there; bad input is refused and changes nothing.
    assert http.get(f"{url}/pair", headers=bob).status_code == 404
    answer = {"pair_id": pair["pair_id"], "choice": "left"}
    assert http.post(f"{url}/choices", headers=bob, json=answer).status_code == 404
    bob_session = http.post("/v1/onboarding", headers=bob).json()["id"]
    stolen = http.post(f"/v1/onboarding/{bob_session}/choices", headers=bob, json=answer)
    assert stolen.status_code == 422 and "not shown" in stolen.json()["detail"]
    unknown = http.post(f"{url}/choices", headers=alice, json={**answer, "pair_id": "nope"})
    assert unknown.status_code == 422
    maybe = http.post(f"{url}/choices", headers=alice, json={**answer, "choice": "both"})
    assert maybe.status_code == 422
    assert http.get("/v1/preferences/taste", headers=alice).json()["choices"] == 0

    seen = set()
    for _ in range(15):
        seen.add(frozenset((pair["left"]["id"], pair["right"]["id"])))
        reply = http.post(
            f"{url}/choices",
            headers=alice,
            json={"pair_id": pair["pair_id"], "choice": _warm_answer(pair)},
        )
        assert reply.status_code == 200, reply.text
        previous, pair = pair, reply.json()
    assert len(seen) == 15 and frozenset((pair["left"]["id"], pair["right"]["id"])) not in seen

    again = http.post(
        f"{url}/choices", headers=alice, json={"pair_id": previous["pair_id"], "choice": "right"}
    )
    assert again.status_code == 409 and "already answered" in again.json()["detail"]

    taste = http.get("/v1/preferences/taste", headers=alice).json()
    assert taste["choices"] == 15
    ranking = taste["ranking"]
    assert len(ranking) == 24 and {r["image_id"] for r in ranking[:5]} == WARM
    assert [r["taste_match"] for r in ranking] == sorted(
        (r["taste_match"] for r in ranking), reverse=True
    )
    assert taste["agreement_of"] > 0 and 0.0 <= taste["agreement"] <= 1.0

    # bob's taste knows nothing of alice's choices
    bobs = http.get("/v1/preferences/taste", headers=bob).json()
    assert bobs["choices"] == 0 and {r["taste_match"] for r in bobs["ranking"]} == {0.5}

    # the export carries the choices and the model; bob importing it gets alice's ranking
    document = http.get("/v1/preferences/export", headers=alice).json()
    assert len(document["taste"]["choices"]) == 15 and document["taste"]["models"]
    imported = http.post("/v1/preferences/import", headers=bob, json=document)
    assert imported.status_code == 200, imported.text
    moved = http.get("/v1/preferences/taste", headers=bob).json()
    assert [r["image_id"] for r in moved["ranking"][:5]] == [r["image_id"] for r in ranking[:5]]


def test_a_session_of_picks_finishes_as_one_version_with_the_chosen_images(
    client: Client,
) -> None:
    """Picks only, no comment: the finish writes one version whose liked images are the
    picked ones (weighted by the model's confidence); no version before it."""
    http, tokens = client
    alice = tokens["alice"]
    session = http.post("/v1/onboarding", headers=alice).json()["id"]
    url = f"/v1/onboarding/{session}"
    pair = http.get(f"{url}/pair", headers=alice).json()
    picked = set()
    for _ in range(8):
        answer = _warm_answer(pair)
        if answer != "neither":
            picked.add(pair[answer]["id"])
        pair = http.post(
            f"{url}/choices", headers=alice, json={"pair_id": pair["pair_id"], "choice": answer}
        ).json()
    assert http.get("/v1/preferences/versions", headers=alice).json() == []
    finished = http.post(f"{url}/finish", headers=alice)
    assert finished.status_code == 200, finished.text
    assert finished.json()["profile_version"] == 1
    liked = http.get("/v1/preferences/export", headers=alice).json()["liked_images"]
    assert liked and {r["image_id"] for r in liked} <= picked
    assert all(r["chosen"] for r in liked) and liked[0]["image_id"] in WARM
    assert [r["weight"] for r in liked] == sorted((r["weight"] for r in liked), reverse=True)
    assert len(http.get("/v1/preferences/versions", headers=alice).json()) == 1


def test_a_malformed_taste_import_is_a_422_and_changes_nothing(client: Client) -> None:
    http, tokens = client
    alice = tokens["alice"]
    document = http.get("/v1/preferences/export", headers=alice).json()
    bad = {**document, "taste": {"choices": [{"left": "a", "right": "b", "answer": "maybe"}]}}
    refused = http.post("/v1/preferences/import", headers=alice, json=bad)
    assert refused.status_code == 422 and "taste.choices" in refused.json()["detail"]
    assert http.get("/v1/preferences/taste", headers=alice).json()["choices"] == 0
    assert http.get("/v1/preferences/versions", headers=alice).json() == []


def _generated(http: TestClient, headers: dict[str, str], seed: int) -> str:
    job = http.post(
        "/v1/generations",
        headers=headers,
        json={"prompt": "a warm orange sunset", "steps": 2, "width": 64, "height": 64,
              "seed": seed},
    )  # fmt: skip
    assert job.status_code == 202, job.text
    job_id: str = job.json()["id"]
    for _ in range(600):
        if http.get(f"/v1/generations/{job_id}", headers=headers).json()["status"] == "done":
            return job_id
        time.sleep(0.1)
    raise AssertionError(f"generation {job_id} never finished")


def test_feedback_on_a_generated_image_is_a_choice_against_the_prediction(client: Client) -> None:
    http, tokens = client
    alice, bob = tokens["alice"], tokens["bob"]
    job_id = _generated(http, alice, seed=3)
    liked = http.post(f"/v1/generations/{job_id}/feedback", headers=alice, json={"liked": True})
    assert liked.status_code == 200, liked.text
    taste = http.get("/v1/preferences/taste", headers=alice).json()
    # An empty model predicts 0.5, which agrees with nothing: the reaction teaches, but the
    # agreement counts only reactions the model had an opinion on.
    assert taste["choices"] == 1 and taste["agreement_of"] == 0
    again = http.post(f"/v1/generations/{job_id}/feedback", headers=alice, json={"liked": False})
    assert again.status_code == 200
    taste = http.get("/v1/preferences/taste", headers=alice).json()
    assert taste["choices"] == 1  # a change of mind replaces the reaction
    assert taste["agreement_of"] == 1 and taste["agreement"] == 0.0  # it predicted a like
    exported = http.get("/v1/preferences/export", headers=alice).json()["taste"]["choices"]
    assert [c["answer"] for c in exported] == ["dislike"] and exported[0]["features"]
    assert http.get("/v1/preferences/taste", headers=bob).json()["choices"] == 0


@pytest.fixture()
def asking(tmp_path: Path, warm_cache: Path) -> Iterator[Client]:
    """The app asking after any pick against the model's lean (why_surprise 0.5), at most
    once per 3 choices: active selection shows pairs the model is unsure of, so at the
    default (0.6) a scripted person would seldom be asked (design.md, "Asking why a pick")."""
    settings = Settings(
        data_dir=tmp_path / "data", cache_dir=warm_cache, why_surprise=0.5, why_every=3
    )
    components = Components(settings)
    tokens = {}
    for user in ("alice", "bob"):
        components.accounts.create(user)
        tokens[user] = {"Authorization": f"Bearer {components.accounts.issue_token(user)}"}
    with TestClient(create_app(settings)) as test_client:
        yield test_client, tokens


def test_a_surprising_pick_is_asked_why_and_the_answer_is_read(asking: Client) -> None:
    http, tokens = asking
    alice, bob = tokens["alice"], tokens["bob"]
    session = http.post("/v1/onboarding", headers=alice).json()["id"]
    url = f"/v1/onboarding/{session}"
    pair = http.get(f"{url}/pair", headers=alice).json()
    asked: list[dict[str, Any]] = []
    plain: list[str] = []
    for number in range(30):  # warm for 8 picks, then the other one whenever one is warm
        answer = _warm_answer(pair)
        if number >= 8 and answer != "neither":
            answer = "right" if answer == "left" else "left"
        reply = http.post(
            f"{url}/choices", headers=alice, json={"pair_id": pair["pair_id"], "choice": answer}
        ).json()
        if reply["why"] is not None:
            assert reply["why"]["pair_id"] == pair["pair_id"]
            assert reply["why"]["image_id"] == pair[answer]["id"]
            asked.append(reply["why"])
        else:
            plain.append(pair["pair_id"])
        pair = reply
    assert asked and len(asked) <= 30 // 3 + 1  # now and then, never at every turn
    assert asked[0]["question"] == "What made you pick that one?"

    why = f"{url}/choices/{asked[0]['pair_id']}/why"
    said = {"text": "I love the icy blue palette and the calm empty space"}
    assert http.post(why, headers=bob, json=said).status_code == 404  # not bob's session
    not_asked = http.post(f"{url}/choices/{plain[0]}/why", headers=alice, json=said)
    assert not_asked.status_code == 422
    assert http.post(why, headers=alice, json={"text": ""}).status_code == 422
    assert http.get("/v1/preferences/versions", headers=alice).json() == []  # nothing stored

    answered = http.post(why, headers=alice, json=said)
    assert answered.status_code == 200, answered.text
    learned = answered.json()["learned"]
    assert learned and answered.json()["message"].startswith("Noted: +")
    assert all(a["source"] == f"pick:{asked[0]['pair_id']}" for a in learned)
    stored = {
        a["text"] for a in http.get("/v1/preferences/export", headers=alice).json()["attributes"]
    }
    assert {a["text"] for a in learned} <= stored
    assert http.post(why, headers=alice, json=said).status_code == 409  # answered once
