"""preference_store/change_stamp.py: the current version is read again once anything was
committed, by this process or another, and answered from memory until then."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

import api.tables  # noqa: F401  (every table on Base)
from preference_store.change_stamp import ChangeStamp
from preference_store.database import create_schema, make_engine
from preference_store.models import Profile
from preference_store.versions import VersionLog

# Another process writes a version of "ada" with its own engine (as the CLI or a second API
# node would), then exits.
_WRITER = """
import sys
import api.tables
from preference_store.database import make_engine
from preference_store.models import Profile
from preference_store.versions import VersionLog
VersionLog(make_engine(sys.argv[1])).append(Profile(user_id="ada", version=int(sys.argv[2])), "x")
"""


def _write_elsewhere(url: str, version: int) -> None:
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", _WRITER, url, str(version)], cwd=root, check=True,
                   timeout=120)  # fmt: skip


def _count_queries(engine: Engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    return seen


def test_the_current_version_follows_other_processes_and_is_read_once_between_writes(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'tastemaker.db'}"
    engine = make_engine(url)
    create_schema(engine)
    log = VersionLog(engine)
    queries = _count_queries(engine)
    assert log.newest("ada") is None
    assert log.newest("ada") is None and len(queries) == 1  # nothing written: from memory

    _write_elsewhere(url, 1)
    first = log.newest("ada")
    assert first is not None and first[0] == 1 and len(queries) == 2
    assert log.newest("ada") == first and len(queries) == 2
    latest = log.latest("ada")
    assert latest is not None and latest.version == 1

    log.append(Profile(user_id="ada", version=2), "here")  # this process, another connection
    second = log.newest("ada")
    assert second is not None and second[0] == 2

    _write_elsewhere(url, 3)
    third = log.latest("ada")
    assert third is not None and third.version == 3
    assert log.newest("bob") is None  # another user: read, then kept too

    log.delete_user("ada")
    assert log.newest("ada") is None and log.latest("ada") is None


def test_the_stamp_changes_with_every_commit_of_another_connection(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tastemaker.db'}"
    engine = make_engine(url)
    create_schema(engine)
    stamp = ChangeStamp(engine)
    before = stamp.stamp()
    assert stamp.stamp() == before
    _write_elsewhere(url, 1)
    after = stamp.stamp()
    assert after != before and stamp.stamp() == after
    assert ChangeStamp.applies(engine)
    assert not ChangeStamp.applies(make_engine("sqlite:///:memory:"))
