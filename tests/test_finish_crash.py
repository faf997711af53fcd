"""kill -9 during onboarding finishes, 20 times: every onboarding is recorded exactly once, no
session is left stuck, and chromadb ends up holding every attribute of every profile.

Each trial is a fresh process over the same data (forked from one that loaded the model, so a
trial starts in milliseconds); it first recovers what the previous one left, as a restarted
service does, then finishes sessions until it is killed at a random moment inside a finish.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import create_engine, func, select

from agent.sessions import FINISHED, OnboardingSessionRow
from preference_store.versions import ProfileVersionRow

ROOT = Path(__file__).parents[1]
TRIALS = 20
USERS = 26


class Forker:
    def __init__(self, data_dir: Path) -> None:
        # One torch thread (torch reads MKL_NUM_THREADS after OMP_NUM_THREADS): the trials are
        # forked after torch has run, and libgomp's thread pool does not survive a fork.
        one = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        env = {**os.environ, "HF_HUB_OFFLINE": "1", **one}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.doubles.finish_forker", str(data_dir)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: IO[str] = self.process.stdin
        self.stdout: IO[str] = self.process.stdout
        self.expect("ready")

    def line(self) -> str:
        line = self.stdout.readline()
        assert line, "the forker died"
        return line.strip()

    def expect(self, *prefixes: str) -> list[str]:
        """Lines up to and including the first one starting with one of ``prefixes``."""
        seen = []
        while True:
            line = self.line()
            seen.append(line)
            assert not line.startswith("error"), seen
            if line.startswith(prefixes):
                return seen

    def start(self, command: str) -> int:
        self.stdin.write(command + "\n")
        self.stdin.flush()
        return int(self.expect("pid ")[-1].split()[1])

    def complete(self, command: str) -> list[str]:
        self.start(command)
        lines = self.expect("exit ")
        assert lines[-1] == "exit 0", lines
        return lines

    def close(self) -> None:
        self.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture()
def forker(tmp_path: Path) -> Iterator[Forker]:
    running = Forker(tmp_path / "data")
    yield running
    running.close()


@pytest.mark.slow
def test_twenty_kills_during_finish_record_each_onboarding_once(
    forker: Forker, tmp_path: Path
) -> None:
    forker.complete(f"prep {USERS}")
    chance = random.Random(os.environ.get("FINISH_CRASH_SEED", time.time_ns()))
    longest = 0.05  # the slowest finish seen so far (s): kills land within it
    killed_inside = 0
    trials = 0
    for _trial in range(TRIALS):
        pid = forker.start("run")
        lines = forker.expect("finishing ", "exit ")
        if lines[-1].startswith("exit "):  # an earlier run finished every session: done early
            assert lines[-1] == "exit 0", lines
            break
        trials += 1
        started = time.monotonic()
        time.sleep(chance.uniform(0, longest))
        with contextlib.suppress(ProcessLookupError):  # it may have finished everything first
            os.kill(pid, signal.SIGKILL)
        lines += forker.expect("exit ")
        assert lines[-1] in {"exit -9", "exit 0"}, lines
        # The run finishes sessions one after another until the kill: did it land inside one?
        begun = [line.split()[1] for line in lines if line.startswith("finishing ")]
        ended = {line.split()[1] for line in lines if line.startswith("finished ")}
        if begun[-1] in ended:
            if len(ended) == 1:  # one whole finish fitted in the wait: aim up to its length
                longest = max(longest, time.monotonic() - started)
        else:
            killed_inside += 1
    forker.complete("run")  # the last restart finishes what is left

    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'tastemaker.db'}")
    with engine.connect() as db:
        sessions = db.execute(
            select(
                OnboardingSessionRow.id,
                OnboardingSessionRow.user_id,
                OnboardingSessionRow.status,
                OnboardingSessionRow.profile_version,
            )
        ).all()
        versions = dict(
            db.execute(
                select(ProfileVersionRow.user_id, func.count()).group_by(ProfileVersionRow.user_id)
            ).all()
        )
        origins = dict(
            db.execute(select(ProfileVersionRow.user_id, ProfileVersionRow.origin)).all()
        )
    engine.dispose()
    assert len(sessions) == USERS
    assert all(s.status == FINISHED and s.profile_version == 1 for s in sessions), sessions
    assert versions == {s.user_id: 1 for s in sessions}  # each onboarding exactly once
    assert origins == {s.user_id: f"onboarding:{s.id}" for s in sessions}
    # the kills really hit finishes
    assert trials >= TRIALS // 2 and killed_inside >= trials // 2, (trials, killed_inside)

    checked = [line.split() for line in forker.complete("check") if line.startswith("user ")]
    assert len(checked) == USERS
    assert all(int(attributes) > 0 and attributes == found for _, _, attributes, found in checked)
