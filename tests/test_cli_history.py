"""Git-style id prefixes and profile history (`prefs versions/diff/restore`, `show --version`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from api.cli.ids import AmbiguousId, resolve_prefix
from tests.cli_runner import Cli, ok, wide_cli


@pytest.fixture()
def cli(data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    run = wide_cli(capsys, monkeypatch)
    ok(run("prefs", "add", "alice", "like", "teal palette", "--category", "color"))  # v1
    ok(run("prefs", "add", "alice", "dislike", "lens flare", "--category", "lighting"))  # v2
    ok(run("prefs", "add", "alice", "like", "teal palette", "--strength", "0.9"))  # v3
    return run


def _shown_ids(table: str) -> list[str]:
    """The ids as the human table prints them (shortened)."""
    return re.findall(r"\b([0-9a-f]{12})\b", table)


def test_the_id_that_show_prints_is_accepted_by_delete(cli: Cli) -> None:
    table = ok(cli("prefs", "show", "alice"))
    shortened = _shown_ids(table)
    assert len(shortened) == 2
    ok(cli("prefs", "delete", "alice", shortened[0]))
    left = json.loads(ok(cli("prefs", "show", "alice", "--json")))
    assert len(left) == 1 and not left[0]["id"].startswith(shortened[0])
    # a few characters do, too, as in git
    ok(cli("prefs", "delete", "alice", left[0]["id"][:5]))
    assert json.loads(ok(cli("prefs", "show", "alice", "--json"))) == []


def test_an_ambiguous_prefix_lists_the_candidates() -> None:
    ids = ["abc123", "abd456", "xyz789"]
    assert resolve_prefix("abc", ids) == "abc123"
    assert resolve_prefix("q", ids) is None
    with pytest.raises(AmbiguousId, match="abc123, abd456"):
        resolve_prefix("ab", ids)


def test_an_ambiguous_prefix_on_the_command_line_deletes_nothing(cli: Cli, tmp_path: Path) -> None:
    document = json.loads(ok(cli("prefs", "export", "alice")))
    for attribute, new_id in zip(document["attributes"], ("ab12cd", "ab34ef"), strict=True):
        attribute["id"] = new_id
    crafted = tmp_path / "alice.json"
    crafted.write_text(json.dumps(document))
    ok(cli("prefs", "import", str(crafted)))
    before = ok(cli("prefs", "export", "alice"))
    result = cli("prefs", "delete", "alice", "ab")
    assert result.code == 1
    assert "ambiguous" in result.stderr and "ab12cd, ab34ef" in result.stderr
    result = cli("prefs", "delete", "alice", "")
    assert result.code == 1 and "does not exist" in result.stderr
    assert ok(cli("prefs", "export", "alice")) == before
    ok(cli("prefs", "delete", "alice", "ab3"))
    assert [a["id"] for a in json.loads(ok(cli("prefs", "show", "alice", "--json")))] == ["ab12cd"]


def test_versions_lists_each_change(cli: Cli) -> None:
    versions = json.loads(ok(cli("prefs", "versions", "alice", "--json")))
    assert [(v["version"], v["attribute_count"]) for v in versions] == [(1, 1), (2, 2), (3, 2)]
    table = ok(cli("prefs", "versions", "alice"))
    assert "prefs add: like teal palette" in table and "prefs add: dislike lens flare" in table
    flare = next(
        a
        for a in json.loads(ok(cli("prefs", "show", "alice", "--json")))
        if a["text"] == "lens flare"
    )
    ok(cli("prefs", "delete", "alice", flare["id"][:12]))
    table = ok(cli("prefs", "versions", "alice"))
    assert "delete: dislike lens flare" in table and flare["id"][:12] not in table
    restored = ok(cli("prefs", "restore", "alice", "1"))
    assert "(1 attribute)" in restored  # not "1 attributes"


def test_show_a_past_version_and_diff_two(cli: Cli) -> None:
    first = json.loads(ok(cli("prefs", "show", "alice", "--json", "--version", "1")))
    assert [(a["text"], a["strength"]) for a in first] == [("teal palette", 0.7)]
    assert "version 1" in ok(cli("prefs", "show", "alice", "--version", "1"))

    changes = json.loads(ok(cli("prefs", "diff", "alice", "1", "3", "--json")))
    assert [a["text"] for a in changes["added"]] == ["lens flare"]
    assert changes["removed"] == []
    assert [(c["after"]["text"], c["fields"]) for c in changes["changed"]] == [
        ("teal palette", ["strength"])
    ]
    human = ok(cli("prefs", "diff", "alice", "1", "3"))
    assert "+ dislike lens flare" in human and "strength 0.7 → 0.9" in human
    result = cli("prefs", "show", "alice", "--version", "9")
    assert result.code == 1 and "version 9 does not exist" in result.stderr


def test_restore_makes_a_new_version_equal_to_the_old_one(cli: Cli) -> None:
    out = ok(cli("prefs", "restore", "alice", "1"))
    assert "as version 4" in out
    now = json.loads(ok(cli("prefs", "show", "alice", "--json")))
    then = json.loads(ok(cli("prefs", "show", "alice", "--json", "--version", "1")))
    assert now == then
    versions = json.loads(ok(cli("prefs", "versions", "alice", "--json")))
    assert [v["version"] for v in versions] == [1, 2, 3, 4]
    assert versions[-1]["reason"] == "restore version 1"
    assert json.loads(ok(cli("prefs", "diff", "alice", "1", "4", "--json")))["added"] == []
    # search sees the restored attributes only
    hits = json.loads(ok(cli("prefs", "search", "alice", "flare", "--json")))
    assert [h["text"] for h in hits] == ["teal palette"]
