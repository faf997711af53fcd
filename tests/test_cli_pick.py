"""`tastemaker pick` and the taste match in `tastemaker score` (issue 22): both images' paths
and descriptions, 1 / 2 / 0 / s read from the terminal, a line that is none of them asked
again, and the choices persisted for score (real CLI, tiny CLIP, MiniLM, SQLite)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from tests.cli_runner import ok, run_cli


def test_pick_reads_choices_and_score_uses_them(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("maybe\n1\n0\ns\n2\n"))
    out = ok(run_cli(capsys, "pick", "alice", "--rounds", "4", "--create"))
    assert out.count("which do you prefer?") == 4
    shown = re.findall(r"^\s+([12]): (.+)\n\s+(\S+\.png)$", out, flags=re.M)
    assert len(shown) == 8 and all(Path(path).is_file() for _, _, path in shown)
    assert "Type 1 or 2 for the one you prefer" in out  # 'maybe' was asked again
    assert "Learned from 3 choices (3 new ones now)." in out  # 1, 0, 2 count; s does not
    assert "What I think you like:" in out

    # The second run shows none of the first run's pairs again.
    monkeypatch.setattr("sys.stdin", io.StringIO("1\n1\n"))
    again = ok(run_cli(capsys, "pick", "alice", "--rounds", "2"))
    first_pairs = {frozenset((shown[i][2], shown[i + 1][2])) for i in range(0, 8, 2)}
    later = re.findall(r"^\s+[12]: .+\n\s+(\S+\.png)$", again, flags=re.M)
    assert not {frozenset(later[i : i + 2]) for i in range(0, len(later), 2)} & first_pairs
    assert "Learned from 5 choices (2 new ones now)." in again

    # The picks join the profile once per run, as liked images weighted by confidence.
    said = r"Saved (\d+) chosen images? as liked.*\(profile version (\d+)\)"
    saved = re.findall(said, out + again)
    assert saved and all(int(n) >= 1 for n, _ in saved) and len(saved) <= 2
    # Every picked image is either saved or said to be left out (picked as the lesser evil).
    picked = [{shown[0][2], shown[7][2]}, {shown[0][2], shown[7][2], later[0], later[2]}]
    told = r"Saved (\d+) chosen images? as liked, [^;(]*(?:; (\d+) other picks? I am not sure"
    for run, seen in zip((out, again), picked, strict=True):
        for kept, unsure in re.findall(told + ")?", run):
            assert int(kept) + int(unsure or 0) == len(seen), run
    exported = json.loads(ok(run_cli(capsys, "prefs", "export", "alice")))
    liked = exported["liked_images"]
    assert liked and all(r["chosen"] and 0 < r["weight"] <= 1 for r in liked)
    assert exported["version"] == int(saved[-1][1])

    picture = shown[0][2]
    scored = json.loads(ok(run_cli(capsys, "score", "--user", "alice", "--model", "tiny",
                                   "--json", picture)))  # fmt: skip
    assert 0.0 <= scored[0]["taste_match"] <= 1.0
    plain = ok(run_cli(capsys, "score", "--user", "alice", "--model", "tiny", picture))
    assert re.match(r"^\d\.\d{3}  taste \d\.\d{3}  \S+\.png$", plain.strip())


def test_pick_stops_at_q_and_refuses_an_unknown_user(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("q\n"))
    out = ok(run_cli(capsys, "pick", "alice", "--rounds", "3", "--create"))
    assert out.count("which do you prefer?") == 1 and "Learned from 0 choices" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("1\n"))
    monkeypatch.setenv("COLUMNS", "200")  # one line, however narrow the terminal
    refused = run_cli(capsys, "pick", "alcie", "--rounds", "1")
    assert refused.code == 1 and "did you mean alice?" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


class _Contrarian:
    """A person at the terminal who always picks the image the model leans against, reading
    the pair shown from the database (as the terminal shows it), explains the first pick they
    are asked about and presses Enter at the next."""

    def __init__(self) -> None:
        from agent.pick_why import WhyRule
        from api.wiring.services import Components
        from preference_store.choices import ChoiceStore

        components = Components()
        self.choices = ChoiceStore(components.engine)
        self.rule = WhyRule(components.settings.why_surprise, components.settings.why_every)
        self.explained: list[str] = []
        self.lines = 0

    def readline(self) -> str:
        from agent.pick_why import asked_why

        self.lines += 1
        assert self.lines < 100
        history = self.choices.history("alice")
        picked = [c for c in history if c.answer in ("left", "right")]
        last = picked[-1].id if picked else None
        if last in asked_why(history, self.rule) and last not in self.explained:
            self.explained.append(str(last))
            return "the icy blue palette won me over\n" if len(self.explained) == 1 else "\n"
        waiting = [c for c in history if c.answer is None and c.right is not None]
        if not waiting:
            return "q\n"
        return "1\n" if (waiting[-1].predicted or 0.5) < 0.5 else "2\n"


def test_pick_asks_why_after_a_surprising_pick_and_reads_the_answer(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At any pick against the model's lean (why_surprise 0.5), at most once per 2 choices."""
    monkeypatch.setenv("TASTEMAKER_WHY_SURPRISE", "0.5")
    monkeypatch.setenv("TASTEMAKER_WHY_EVERY", "2")
    ok(run_cli(capsys, "users", "create", "alice"))
    person = _Contrarian()
    monkeypatch.setattr("sys.stdin", person)
    out = ok(run_cli(capsys, "pick", "alice", "--rounds", "10"))
    asked = out.count("What made you pick that one? (Enter to skip)")
    assert asked == len(person.explained) >= 2 and asked <= 5
    assert out.count("Noted: +") == 1 and "icy blue" in out
    exported = json.loads(ok(run_cli(capsys, "prefs", "export", "alice")))
    sources = {a["source"] for a in exported["attributes"]}
    assert sources == {f"pick:{person.explained[0]}"}  # the skipped question stored nothing
