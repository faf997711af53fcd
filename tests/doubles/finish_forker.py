"""Onboarding finishes in processes that a test can kill -9, started in milliseconds.

``python -m tests.doubles.finish_forker DATA_DIR`` loads the real MiniLM model and the offline
extractor once, then reads commands on stdin. Each command forks a fresh process that opens
its own SQLite engine, chromadb client and agent over DATA_DIR (nothing opened before the fork
is shared), as a restarted service would, and runs:

- ``prep N``: N users ``u0``..``uN-1``, each with a session and two comments;
- ``run``: first recover what a killed process left (``resume`` on every session that was
  being finished or whose "done" was never answered, as the web page does after a restart),
  then say "done" to every unfinished session, one after the other;
- ``check``: per user, whether chromadb holds a record for every attribute of the profile.

The forked process writes ``pid N`` first, then ``finishing ID`` / ``finished ID`` around each
finish, and the server writes ``exit N`` when it ends (``-9`` when killed).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from pathlib import Path

from sqlalchemy import select

from agent.onboarding import OnboardingAgent, SessionFinished
from agent.sessions import FINISHED, USER, OnboardingSessionRow, SessionRepository
from api.settings import Settings
from api.wiring.agent import build_gallery, build_offline_extractor
from api.wiring.services import open_embedder, open_engine, open_store
from tests.doubles.uvicorn_server import ONBOARDING_COMMENTS


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# What opening the engine and the store import lazily (alembic for the schema check, chromadb):
# imported here, once, rather than by every forked trial (seconds each; importing opens nothing).
PRELOADED = ("api.migrate", "chromadb", "chromadb.api.rust")


class Forker:
    def __init__(self, data_dir: Path) -> None:
        for name in PRELOADED:
            importlib.import_module(name)
        self.settings = Settings(data_dir=data_dir, torch_threads=1)
        self.embedder = open_embedder(self.settings)
        self.extractor = build_offline_extractor(self.embedder)
        self.gallery = build_gallery(self.settings)

    def agent(self) -> tuple[OnboardingAgent, SessionRepository]:
        engine = open_engine(self.settings)
        sessions = SessionRepository(engine)
        store = open_store(self.settings, engine=engine, embedder=self.embedder)
        agent = OnboardingAgent(
            sessions=sessions, store=store, extractor=self.extractor, gallery=self.gallery
        )
        return agent, sessions

    def prep(self, count: int) -> None:
        agent, _ = self.agent()
        for n in range(count):
            turn = agent.start(f"u{n}")
            for comment in ONBOARDING_COMMENTS[n % 5 : n % 5 + 2]:
                agent.reply(turn.session_id, comment)

    def run(self) -> None:
        agent, sessions = self.agent()
        with sessions._session() as db:
            ids = list(
                db.scalars(select(OnboardingSessionRow.id).order_by(OnboardingSessionRow.user_id))
            )
        for session_id in ids:
            info = sessions.get(session_id)
            assert info is not None
            log = sessions.messages(session_id)
            unanswered = log[-1].role == USER and log[-1].kind == "done"
            if info.status != FINISHED and (info.finish_interrupted or unanswered):
                say(f"recovering {session_id}")
                agent.resume(session_id)
        for session_id in ids:
            info = sessions.get(session_id)
            if info is None or info.status == FINISHED:
                continue
            say(f"finishing {session_id}")
            with contextlib.suppress(SessionFinished):  # a racing finisher got there first
                agent.reply(session_id, "done")
            say(f"finished {session_id}")

    def check(self) -> None:
        engine = open_engine(self.settings)
        store = open_store(self.settings, engine=engine, embedder=self.embedder)
        with engine.connect() as db:
            users = sorted(set(db.scalars(select(OnboardingSessionRow.user_id))))
        for user in users:
            attributes = store.list_attributes(user)
            found = store.search(user, "colour light texture", limit=1_000)
            say(f"user {user} {len(attributes)} {len(found)}")

    def serve(self) -> None:
        say("ready")
        for line in sys.stdin:
            command, *args = line.split()
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    say(f"pid {os.getpid()}")
                    if command == "prep":
                        self.prep(int(args[0]))
                    elif command == "run":
                        self.run()
                    else:
                        self.check()
                    say("done")
                except BaseException as error:  # reported, then exit 1
                    say(f"error {type(error).__name__}: {error}")
                    code = 1
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            say(f"exit {os.waitstatus_to_exitcode(status)}")


if __name__ == "__main__":
    Forker(Path(sys.argv[1])).serve()
    os._exit(0)  # nothing to flush; skips seconds of interpreter teardown
