"""Asking instead of guessing, through every way in (issue 21): the turn's `unsure` list and the
question in the reply over HTTP, `like` / `dislike` / `drop` corrections that answer it, 404 for
another user's session and 422 for a bad index; the terminal (`tastemaker onboard`: `like`,
`neither`, an answer in words); `tastemaker extract` listing unsure features apart; and the
correction log carrying answered questions as labels. Real app, real offline reader."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.wiring.services import Components
from tests.cli_runner import CliResult, run_cli

FLARE = "Love how there's a lens flare on every window. Very understated."
QUESTION = "Quick check — the lens flare: did you like it?"


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    settings = Settings(data_dir=tmp_path / "data")
    components = Components(settings)
    tokens = {}
    for user in ("alice", "bob"):
        components.accounts.create(user)
        tokens[user] = {"Authorization": f"Bearer {components.accounts.issue_token(user)}"}
    with TestClient(create_app(settings)) as test_client:
        yield test_client, tokens


def asked(http: TestClient, headers: dict[str, str]) -> tuple[str, dict[str, Any]]:
    session = http.post("/v1/onboarding", headers=headers).json()["id"]
    turn = http.post(f"/v1/onboarding/{session}/messages", headers=headers, json={"text": FLARE})
    assert turn.status_code == 200, turn.text
    body = turn.json()
    assert body["reply"].endswith(QUESTION)
    assert body["unsure"] == [
        {"index": len(body["extracted"]), "text": "lens flare", "category": "lighting",
         "question": QUESTION}
    ]  # fmt: skip
    return session, body


def test_a_question_over_http_is_answered_by_a_correction(
    client: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    http, tokens = client
    alice, bob = tokens["alice"], tokens["bob"]
    session, turn = asked(http, alice)
    url = f"/v1/onboarding/{session}/messages/{turn['message_id']}/corrections"
    index = turn["unsure"][0]["index"]

    # Another user's session is not there; an index past the unsure items is refused.
    like = {"attribute_index": index, "action": "like"}
    assert http.post(url, headers=bob, json=like).status_code == 404
    bad = http.post(url, headers=alice, json={"attribute_index": index + 1, "action": "like"})
    assert bad.status_code == 422 and "out of range" in bad.json()["detail"]
    love = {"attribute_index": index, "action": "love"}
    assert http.post(url, headers=alice, json=love).status_code == 422

    answered = http.post(url, headers=alice, json=like)
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["reply"].startswith("Got it: + lens flare.")
    assert body["image"]["id"] != turn["image"]["id"]  # on to the next image
    assert ("lens flare", "like") in {(e["text"], e["polarity"]) for e in body["extracted"]}
    assert body["unsure"] == []

    http.post(f"/v1/onboarding/{session}/finish", headers=alice)
    groups = http.get("/v1/preferences", headers=alice).json()["groups"]
    likes = {a["text"] for g in groups for a in g["likes"]}
    assert "lens flare" in likes


def test_an_unanswered_question_over_http_stores_nothing(
    client: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    http, tokens = client
    alice = tokens["alice"]
    session, _ = asked(http, alice)
    http.post(f"/v1/onboarding/{session}/finish", headers=alice)
    groups = http.get("/v1/preferences", headers=alice).json()["groups"]
    texts = {a["text"] for g in groups for a in [*g["likes"], *g["dislikes"]]}
    assert "lens flare" not in texts


def ok(result: CliResult) -> str:
    assert result.code == 0, result.stderr
    return result.stdout


def onboard(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, user: str, lines: list[str]
) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    return ok(run_cli(capsys, "onboard", user, "--new", "--create"))


def learned(capsys: pytest.CaptureFixture[str], user: str) -> set[tuple[str, str]]:
    shown = json.loads(ok(run_cli(capsys, "prefs", "show", user, "--json")))
    return {(a["text"], a["polarity"]) for a in shown}


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")


def test_questions_in_the_terminal_and_the_correction_log(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = onboard(capsys, monkeypatch, "alice", [FLARE, "like", "done"])
    assert QUESTION in out and "Got it: + lens flare." in out
    assert ("lens flare", "like") in learned(capsys, "alice")

    out = onboard(capsys, monkeypatch, "bob", [FLARE, "ha, no, hated it", "done"])
    assert "Got it: − lens flare." in out
    assert ("lens flare", "dislike") in learned(capsys, "bob")

    out = onboard(capsys, monkeypatch, "carol", [FLARE, "neither", "done"])
    assert "Okay, I'll leave lens flare out." in out
    assert not any(text == "lens flare" for text, _ in learned(capsys, "carol"))

    exported = data_dir.parent / "corrections.jsonl"
    result = run_cli(capsys, "corrections", "export", "--out", str(exported))
    assert result.code == 0, result.stderr
    cases = [json.loads(line) for line in exported.read_text().splitlines()]
    labels = sorted((c["liked"], c["disliked"], c["extracted"]["unsure"]) for c in cases)
    assert labels == [
        ([], [], ["lens flare"]),  # answered "neither": a label that there is none
        ([], ["lens flare"], ["lens flare"]),
        (["lens flare"], [], ["lens flare"]),
    ]


def test_extract_lists_unsure_features_apart(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "extract", FLARE)
    assert result.code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["attributes"] == []
    assert [(u["text"], u["category"], u["question"]) for u in answer["unsure"]] == [
        ("lens flare", "lighting", QUESTION)
    ]
    assert answer["unsure"][0]["evidence"]
    assert "unsure: lens flare — liked or disliked?" in result.stderr
