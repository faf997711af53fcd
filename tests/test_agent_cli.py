"""`tastemaker onboard` and `tastemaker extract` as a person runs them in a terminal."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.cli_runner import CliResult, run_cli, run_cli_process
from tests.doubles.llm_server import LoopbackLLMServer, Reply
from tests.test_agent_support import COMMENTS


def ok(result: CliResult) -> str:
    assert result.code == 0, result.stderr
    return result.stdout


def _typed(monkeypatch: pytest.MonkeyPatch, lines: list[str]) -> None:
    """What the person types, one line per message, then end of input."""
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")


def test_onboard_then_prefs_show_lists_what_was_learned(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _typed(monkeypatch, ["love it!", *COMMENTS, "done"])
    out = ok(run_cli(capsys, "onboard", "alice"))
    assert "Image 1 of 24" in out
    lines = [line.strip() for line in out.splitlines()]
    shown = [line.removeprefix("image:").strip() for line in lines if line.startswith("image:")]
    assert shown and all(Path(p).is_file() for p in shown)
    assert "Could you say a bit more?" in out  # "love it!" is vague: one follow-up
    assert "type 'done' to finish" in out
    assert "Done! I saved" in out and "Finishing early" not in out

    attributes = json.loads(ok(run_cli(capsys, "prefs", "show", "alice", "--json")))
    learned = {(a["text"], a["polarity"]) for a in attributes}
    assert ("warm golden light", "like") in learned
    assert ("cluttered composition", "dislike") in learned
    assert ("neon", "dislike") in learned


@pytest.mark.slow
def test_onboard_continues_in_a_new_process(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _typed(monkeypatch, COMMENTS[:3])
    first = ok(run_cli(capsys, "onboard", "bob"))
    assert "session saved" in first

    second = ok(
        run_cli_process(data_dir, "onboard", "bob", stdin="\n".join([*COMMENTS[3:], "done"]))
    )
    assert "Welcome back" in second and "3 images commented" in second
    assert "Done! I saved" in second
    attributes = json.loads(ok(run_cli(capsys, "prefs", "show", "bob", "--json")))
    assert ("grainy texture", "dislike") in {(a["text"], a["polarity"]) for a in attributes}


def test_onboard_refuses_bad_input_and_keeps_going(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _typed(monkeypatch, ["x" * 20_000, "I love the teal palette", "done"])
    result = run_cli(capsys, "onboard", "carol")
    assert result.code == 0
    assert "keep it under" in result.stdout
    assert "Finishing early" in result.stdout


def test_after_a_correction_the_terminal_says_which_image_is_still_shown(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _typed(monkeypatch, ["I love the teal palette", "flip 1", "done"])
    out = ok(run_cli(capsys, "onboard", "dora"))
    second = out.split("Image 2 of 24: ", 1)[1].splitlines()[0].strip()
    after_fix = out.split("Fixed.", 1)[1].splitlines()[1].strip()
    assert after_fix == f"still on: {second}"
    assert out.count("still on:") == 1  # not under a reply that names its image


def test_extract_prints_liked_and_disliked_attributes(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    comment = "I love the warm golden light but hate the cluttered composition"
    result = json.loads(ok(run_cli(capsys, "extract", comment)))
    assert [(a["text"], a["category"], a["polarity"]) for a in result["attributes"]] == [
        ("warm golden light", "lighting", "like"),
        ("cluttered composition", "composition", "dislike"),
    ]
    assert all({"strength", "evidence"} <= set(a) for a in result["attributes"])

    described = json.loads(
        ok(
            run_cli(
                capsys,
                "extract",
                "love the colors",
                "--image-description",
                "an art deco poster in teal and gold",
            )
        )
    )
    assert [a["text"] for a in described["attributes"]] == ["teal and gold"]


def test_extract_jsonl_answers_every_line(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _typed(
        monkeypatch,
        [
            json.dumps({"comment": "not a fan of the grainy texture"}),
            "not json",
            json.dumps({"comment": ""}),
            json.dumps({"comment": "love the colors", "image_description": "teal and gold"}),
        ],
    )
    lines = [json.loads(line) for line in ok(run_cli(capsys, "extract", "--jsonl")).splitlines()]
    assert len(lines) == 4
    assert lines[0]["attributes"][0]["text"] == "grainy texture"
    assert "line 2" in lines[1]["error"] and "line 3" in lines[2]["error"]
    assert lines[3]["attributes"][0]["text"] == "teal and gold"


def test_extract_uses_the_configured_llm_and_falls_back(
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    llm_server: LoopbackLLMServer,
) -> None:
    monkeypatch.setenv("TASTEMAKER_LLM_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("TASTEMAKER_LLM_MODEL", "loopback-model")
    monkeypatch.setenv("TASTEMAKER_LLM_API_KEY", "test-key")
    monkeypatch.setenv("TASTEMAKER_LLM_MAX_RETRIES", "1")
    llm_server.push(
        Reply.structured(
            {
                "liked": [{"text": "gold leaf", "category": "texture", "evidence": "gold leaf"}],
                "disliked": [],
            }
        )
    )
    by_llm = json.loads(ok(run_cli(capsys, "extract", "the gold leaf is wonderful")))
    assert by_llm["extractor"] == "llm" and not by_llm["fallback"]
    assert [a["text"] for a in by_llm["attributes"]] == ["gold leaf"]
    assert llm_server.chat_requests()[0].headers["authorization"] == "Bearer test-key"

    llm_server.push(Reply.http_error(500), times=5)
    fallback = json.loads(ok(run_cli(capsys, "extract", "not a fan of the grainy texture")))
    assert fallback["extractor"] == "offline" and fallback["fallback"]
    assert [a["text"] for a in fallback["attributes"]] == ["grainy texture"]
    assert len(llm_server.chat_requests()) == 1 + 2  # one success, then 1 + 1 retry
