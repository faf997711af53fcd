"""The `tastemaker prefs` commands as a person runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_runner import Cli, ok, run_cli_process, wide_cli


@pytest.fixture()
def cli(data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    run = wide_cli(capsys, monkeypatch)
    ok(run("prefs", "add", "alice", "like", "teal palette", "--category", "color"))
    ok(run("prefs", "add", "alice", "like", "gritty texture"))
    ok(run("prefs", "add", "alice", "dislike", "low camera angle"))
    ok(run("prefs", "add", "bob", "like", "neon glow", "--create"))
    return run


def test_added_attribute_is_seen_by_a_new_process(cli: Cli, data_dir: Path) -> None:
    shown = json.loads(ok(run_cli_process(data_dir, "prefs", "show", "alice", "--json")))
    assert [(a["text"], a["category"], a["polarity"], a["strength"]) for a in shown] == [
        ("gritty texture", "texture", "like", 0.7),  # category guessed from the text
        ("low camera angle", "perspective", "dislike", 0.7),
        ("teal palette", "color", "like", 0.7),
    ]
    assert all(a["id"] for a in shown)


def test_search_ranks_the_matching_attribute_first_and_only_for_that_user(cli: Cli) -> None:
    hits = json.loads(ok(cli("prefs", "search", "alice", "blue colours", "--json")))
    assert [h["text"] for h in hits] == ["teal palette", "gritty texture", "low camera angle"]
    assert hits[0]["score"] > hits[1]["score"]
    bob = json.loads(ok(cli("prefs", "show", "bob", "--json")))
    assert [a["text"] for a in bob] == ["neon glow"]


def test_human_output_is_a_table(cli: Cli) -> None:
    out = ok(cli("prefs", "show", "alice"))
    assert "teal palette" in out and "dislike" in out and "version 3" in out


def test_unknown_user_is_a_clear_error(cli: Cli) -> None:
    for args in (
        ["show", "carol"],
        ["search", "carol", "x"],
        ["export", "carol"],
        ["delete", "carol", "abc"],
    ):
        result = cli("prefs", *args)
        assert result.code == 1
        assert "user 'carol' does not exist" in result.stderr


def test_bad_input_is_refused_and_nothing_changes(cli: Cli) -> None:
    before = ok(cli("prefs", "export", "alice"))
    cases = [
        (["add", "alice", "like", ""], "empty"),
        (["add", "alice", "like", "x" * 10_000], "characters"),
        (["add", "alice", "like", "teal", "--category", "flavour"], "flavour"),
        (["add", "alice", "like", "teal", "--strength", "7"], "less than or equal to 1"),
        (["add", "alice", "sort-of", "teal"], "sort-of"),
        (["add", "bad user!", "like", "teal"], "user id"),
        (["delete", "alice", "no-such-id"], "does not exist"),
    ]
    for args, message in cases:
        result = cli("prefs", *args)
        assert result.code != 0, args
        assert message in result.stderr, (args, result.stderr)
    assert ok(cli("prefs", "export", "alice")) == before


def test_export_import_delete(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exported = ok(cli("prefs", "export", "alice"))
    backup = tmp_path / "alice.json"
    backup.write_text(exported)
    monkeypatch.setenv("TASTEMAKER_DATA_DIR", str(tmp_path / "elsewhere"))
    ok(cli("prefs", "import", str(backup)))
    restored = json.loads(ok(cli("prefs", "export", "alice")))
    assert restored.pop("version") == 1  # the importing store numbers its own versions
    assert restored == {k: v for k, v in json.loads(exported).items() if k != "version"}

    victim = json.loads(exported)["attributes"][0]["id"]
    ok(cli("prefs", "delete", "alice", victim))
    remaining = json.loads(ok(cli("prefs", "show", "alice", "--json")))
    assert victim not in {a["id"] for a in remaining} and len(remaining) == 2


def test_malformed_import_file_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = cli("prefs", "import", str(broken))
    assert result.code == 1 and "is not JSON" in result.stderr
    result = cli("prefs", "import", str(tmp_path / "missing.json"))
    assert result.code == 1 and "No such file" in result.stderr
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"schema": "other"}')
    result = cli("prefs", "import", str(wrong))
    assert result.code == 1 and "not a tastemaker profile export" in result.stderr


def test_an_import_that_fails_a_check_is_one_line_and_writes_no_version(
    cli: Cli, tmp_path: Path
) -> None:
    before = ok(cli("prefs", "versions", "alice", "--json"))
    document = json.loads(ok(cli("prefs", "export", "alice")))
    document["attributes"][0]["text"] = "gold light"  # a real change: it would make a version
    document["aesthetic_embeddings"] = {"clip-x": [float("nan")] * 8}
    nan = tmp_path / "nan.json"
    nan.write_text(json.dumps(document))  # Python writes the NaN literal
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    for path, message in ((nan, "aesthetic_embeddings"), (nested, "nests JSON too deeply")):
        for _ in range(2):
            result = cli("prefs", "import", str(path))
            assert result.code == 1 and message in result.stderr, result.stderr
            assert result.stderr.startswith("error:") and "Traceback" not in result.stderr
    assert ok(cli("prefs", "versions", "alice", "--json")) == before
