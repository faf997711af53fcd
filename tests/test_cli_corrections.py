"""Corrections in the terminal (`tastemaker onboard`) and the correction log
(`tastemaker corrections export`), which loads and scores through ``agent.evaluation``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from agent.evaluation import load_labelled, score_all
from agent.extraction import Extraction
from preference_store.models import AttributeDraft, Polarity
from tests.cli_runner import CliResult, run_cli

# A litotes the reader takes for a complaint, and stores (it is not among the constructions it
# asks about): the wrong extraction these tests correct.
MISREAD = "The fog is no crime, the neon glare is too much"


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


def test_corrections_in_the_terminal_and_their_export(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = onboard(capsys, monkeypatch, "alice", [MISREAD, "fix 1 like", "done"])
    assert "Noted: 1 − fog, 2 − neon glare." in out, "the extractor now reads MISREAD right"
    assert "Fixed. Noted now: 1 + fog, 2 − neon glare." in out
    assert learned(capsys, "alice") == {("fog", "like"), ("neon glare", "dislike")}

    out = onboard(
        capsys, monkeypatch, "bob", [MISREAD, "no, I liked the fog", "drop 2", "skip", "done"]
    )
    assert "Fixed. Noted now: 1 + fog." in out
    assert learned(capsys, "bob") == {("fog", "like")}

    exported = data_dir.parent / "corrections.jsonl"
    result = run_cli(capsys, "corrections", "export", "--out", str(exported))
    assert result.code == 0 and "wrote 2 corrected comments" in result.stderr
    text = exported.read_text(encoding="utf-8")
    assert "alice" not in text and "bob" not in text  # no user ids in the log
    rows = load_labelled(exported)
    assert [(r.comment, r.liked, r.disliked) for r in rows] == [
        (MISREAD, ("fog",), ("neon glare",)),
        (MISREAD, ("fog",), ()),
    ]
    assert all(r.kind == "correction" and r.image and r.image.description for r in rows)

    # What the extractor said scores against what the person corrected it to.
    said = [json.loads(line)["extracted"] for line in text.splitlines()]
    extractions = [
        Extraction(
            attributes=[AttributeDraft(text=t, polarity=Polarity.LIKE) for t in s["liked"]]
            + [AttributeDraft(text=t, polarity=Polarity.DISLIKE) for t in s["disliked"]]
        )
        for s in said
    ]
    score = score_all(rows, extractions)["correction"]
    assert (score.true_positives, score.polarity_errors, score.predicted, score.expected) == (
        1,
        2,
        4,
        3,
    )
    assert any("polarity of 'fog'" in miss for miss in score.misses)
