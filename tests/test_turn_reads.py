"""A chat turn reads the session's rows once (issue 24): counted on the real SQLite engine,
statement by statement, for a comment, a question's answer and a click."""
# ruff: noqa: F811  (pytest fixtures imported from tests.test_agent_support)

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.test_agent_support import (  # noqa: F401  (fixtures)
    AgentWorld,
    WorldFactory,
    builtin_gallery,
    make_world,
    offline_extractor,
)


@contextmanager
def reads(world: AgentWorld) -> Iterator[dict[str, int]]:
    """SELECTs per table while the block runs."""
    engine = world.sessions._engine
    counted = {"onboarding_messages": 0, "onboarding_sessions": 0, "onboarding_corrections": 0}

    def count(*args: Any) -> None:
        statement = str(args[2]).lower()
        if statement.lstrip().startswith("select"):
            for table in counted:
                if f"from {table}" in statement:
                    counted[table] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_turn_reads_the_messages_once_per_write(make_world: WorldFactory) -> None:
    world = make_world()
    session = world.agent.start("alice").session_id
    with reads(world) as comment:
        turn = world.agent.reply(session, "I love the teal palette but the clutter bothers me.")
    assert turn.learned
    # The turn writes the message, its extraction and the agent's reply (and moves the image):
    # each write may need a fresh read after it, never a read per step.
    assert comment["onboarding_messages"] <= 4, comment
    assert comment["onboarding_corrections"] <= 2, comment

    with reads(world) as asked:
        world.agent.reply(
            session, "Love how there's a lens flare on every window. Very understated."
        )
    with reads(world) as answer:
        world.agent.reply(session, "like")
    assert asked["onboarding_messages"] <= 4 and answer["onboarding_messages"] <= 4, (asked, answer)
