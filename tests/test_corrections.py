"""Correcting what the agent understood, in the conversation: the numbered read-back, commands
("fix 1 like", "drop 2"), words ("no, I liked the fog"), one question when it is unclear; the
finished profile follows the corrections while the transcript keeps the extractor's answer.
Real SQLite, real chromadb, the real offline extractor over the real MiniLM."""
# ruff: noqa: F811  (pytest fixtures imported from tests.test_agent_support)

from __future__ import annotations

from collections.abc import Sequence

import pytest

from agent.corrections import DROP, EDIT, FLIP, LIKE, Change, Question, parse_command, parse_words
from agent.offline import OfflineExtractor
from agent.onboarding import InvalidCorrection, Turn, UnknownMessage
from preference_store.models import AttributeDraft, Category, Polarity
from tests.test_agent_support import (  # noqa: F401  (fixtures)
    WorldFactory,
    builtin_gallery,
    make_world,
    trusting_extractor,
)


@pytest.fixture(scope="session")
def offline_extractor(trusting_extractor: OfflineExtractor) -> OfflineExtractor:
    """The reader storing every guess (as before it could ask), so a misread is stored and
    these tests have something to correct; asking is tested in tests/test_asking.py."""
    return trusting_extractor


# The offline extractor reads "I can't fault the fog" as a dislike of the fog (a negation
# it takes for a complaint): the wrong extraction these tests correct.
MISREAD = "I can't fault the fog, the neon glare is too much"


def assert_misread(turn: Turn) -> None:
    learned = [(a.text, a.polarity) for a in turn.learned]
    assert learned == [("fog", Polarity.DISLIKE), ("neon glare", Polarity.DISLIKE)], (
        "the offline extractor now reads MISREAD right; pick another construction it gets wrong"
    )
    assert "Noted: 1 − fog, 2 − neon glare." in turn.text


def polarities(attributes: Sequence[AttributeDraft]) -> set[tuple[str, Polarity]]:
    return {(a.text, a.polarity) for a in attributes}


@pytest.mark.parametrize("correction", ["fix 1 like", "no, I liked the fog"])
def test_a_typed_correction_reaches_the_profile_and_the_transcript_keeps_both(
    make_world: WorldFactory, correction: str
) -> None:
    world = make_world()
    turn = world.agent.start("alice")
    turn = world.agent.reply(turn.session_id, MISREAD)
    assert_misread(turn)
    image = turn.image

    fixed = world.agent.reply(turn.session_id, correction)
    assert fixed.text == "Fixed. Noted now: 1 + fog, 2 − neon glare."
    assert fixed.image == image  # a correction does not move the conversation on
    assert polarities(list(fixed.learned)) == {
        ("fog", Polarity.LIKE),
        ("neon glare", Polarity.DISLIKE),
    }

    final = world.agent.reply(turn.session_id, "done")
    assert final.profile is not None
    profile = world.store.profile("alice")
    fog = [a for a in profile.attributes if a.text == "fog"]
    assert [(a.polarity, a.strength) for a in fog] == [(Polarity.LIKE, 1.0)]
    assert fog[0].evidence == [correction if correction.startswith("no") else MISREAD]

    transcript = world.agent.corrected_transcript(turn.session_id)
    comment, corrected = next((m, c) for m, c in transcript if m.text == MISREAD)
    assert comment.extraction is not None
    assert ("fog", Polarity.DISLIKE) in polarities(comment.extraction.attributes)
    assert corrected is not None and ("fog", Polarity.LIKE) in polarities(
        [a for a in corrected if a]
    )
    said = [m.text for m, _ in transcript if m.role == "user"]
    assert said == [MISREAD, correction, "done"]


def test_a_click_flips_drops_and_edits_by_index(make_world: WorldFactory) -> None:
    world = make_world()
    turn = world.agent.start("bob")
    turn = world.agent.reply(turn.session_id, MISREAD)
    assert_misread(turn)
    assert turn.message_id is not None and turn.learned_from == turn.message_id

    world.agent.correct(turn.session_id, turn.message_id, 0, FLIP)
    dropped = world.agent.correct(turn.session_id, turn.message_id, 1, DROP)
    assert dropped.text == "Fixed. Noted now: 1 + fog."
    assert dropped.positions == (0,)
    with pytest.raises(InvalidCorrection, match="already removed"):
        world.agent.correct(turn.session_id, turn.message_id, 1, FLIP)
    with pytest.raises(InvalidCorrection, match=r"out of range.*2 extracted attributes"):
        world.agent.correct(turn.session_id, turn.message_id, 2, FLIP)
    with pytest.raises(InvalidCorrection, match="at most 6"):
        world.agent.correct(turn.session_id, turn.message_id, 0, EDIT, "a b c d e f g h")
    edited = world.agent.correct(turn.session_id, turn.message_id, 0, EDIT, "soft morning fog")
    assert polarities(list(edited.learned)) == {("soft morning fog", Polarity.LIKE)}
    with pytest.raises(UnknownMessage):
        world.agent.correct(turn.session_id, turn.message_id + 1, 0, FLIP)  # an agent message

    world.agent.reply(turn.session_id, "done")
    texts = polarities(world.store.profile("bob").attributes)
    assert texts == {("soft morning fog", Polarity.LIKE)}


def test_an_unclear_correction_gets_one_question_and_changes_nothing(
    make_world: WorldFactory,
) -> None:
    world = make_world()
    turn = world.agent.start("carol")
    turn = world.agent.reply(turn.session_id, MISREAD)
    assert_misread(turn)
    asked = world.agent.reply(turn.session_id, "no, the other one")
    assert asked.text.startswith("Which one did I get wrong?")
    assert "1 − fog, 2 − neon glare" in asked.text and "fix 1 like" in asked.text
    assert asked.image == turn.image
    missing = world.agent.reply(turn.session_id, "drop 5")
    assert missing.text.startswith("There is no 5 in my last read-back.")
    world.agent.reply(turn.session_id, "done")
    assert ("fog", Polarity.DISLIKE) in polarities(world.store.profile("carol").attributes)


def test_not_this_but_that_edits_the_text_and_its_category(make_world: WorldFactory) -> None:
    world = make_world()
    turn = world.agent.start("dave")
    turn = world.agent.reply(turn.session_id, "the grid is lovely")
    assert polarities(list(turn.learned)) == {("grid", Polarity.LIKE)}
    fixed = world.agent.reply(turn.session_id, "not the grid, the colours")
    assert fixed.text == "Fixed. Noted now: 1 + colours."
    world.agent.reply(turn.session_id, "done")
    [attribute] = world.store.profile("dave").attributes
    assert (attribute.text, attribute.category, attribute.polarity) == (
        "colours",
        Category.COLOR,
        Polarity.LIKE,
    )
    assert attribute.evidence == ["not the grid, the colours"]


def test_comments_that_only_look_like_corrections_stay_comments(
    offline_extractor: OfflineExtractor,
) -> None:
    noted: list[AttributeDraft | None] = [
        AttributeDraft(text="fog", category=Category.LIGHTING, polarity=Polarity.DISLIKE),
        AttributeDraft(text="neon glare", category=Category.COLOR, polarity=Polarity.DISLIKE),
    ]
    for comment in [
        "no more neon please",
        "no complaints about the light",
        "not a fan of the grainy texture",
        "not a fan of the grain, but the colours are great",
        "fix the horizon please",
    ]:
        assert parse_command(comment, noted) is None, comment
        assert parse_words(comment, noted, offline_extractor) is None, comment
    assert parse_command("Fix #2 to like.", noted) == [Change(1, LIKE)]
    assert isinstance(parse_command("fix 1 dislike", noted), Question)  # it already is


def test_a_typed_correction_interrupted_by_a_crash_is_applied_once_on_resume(
    make_world: WorldFactory,
) -> None:
    world = make_world()
    turn = world.agent.start("erin")
    turn = world.agent.reply(turn.session_id, MISREAD)
    assert_misread(turn)
    # The process died right after storing the person's "flip 1": never answered.
    world.sessions.append(turn.session_id, "user", "correction", "flip 1", turn.image.id)  # type: ignore[union-attr]

    again = make_world()  # a new process over the same files
    resumed = again.agent.resume(turn.session_id)
    assert resumed.text == "Fixed. Noted now: 1 + fog, 2 − neon glare."
    # Died again after storing the correction but before the reply: not flipped back.
    last = again.sessions.messages(turn.session_id)[-1]
    assert last.kind == "corrected"
    again.sessions.append(turn.session_id, "user", "correction", "drop 2", turn.image.id)  # type: ignore[union-attr]
    again.agent.resume(turn.session_id)
    third = make_world()
    assert third.agent.resume(turn.session_id).text.startswith("Welcome back")
    third.agent.reply(turn.session_id, "done")
    assert polarities(third.store.profile("erin").attributes) == {("fog", Polarity.LIKE)}


def test_a_typed_edit_that_does_not_fit_gets_a_question_not_an_error(
    make_world: WorldFactory,
) -> None:
    world = make_world()
    turn = world.agent.start("fay")
    turn = world.agent.reply(turn.session_id, MISREAD)
    assert_misread(turn)
    asked = world.agent.reply(turn.session_id, "edit 1 fog that rolls in over the quiet harbour")
    assert asked.text.startswith("Attribute text has 8 words; use a keyword phrase of at most 6")
    assert "To change one" in asked.text
    edited = world.agent.reply(turn.session_id, "edit 2 neon colours")
    assert edited.text == "Fixed. Noted now: 1 − fog, 2 − neon colours."
    world.agent.reply(turn.session_id, "done")
    colours = [a for a in world.store.profile("fay").attributes if a.text == "neon colours"]
    assert [(a.category, a.strength) for a in colours] == [(Category.COLOR, 1.0)]


def test_an_answer_to_a_follow_up_that_starts_with_no_stays_an_answer(
    make_world: WorldFactory,
) -> None:
    world = make_world()
    turn = world.agent.start("gus")
    turn = world.agent.reply(turn.session_id, "love it!")  # vague: the agent asks a follow-up
    assert "Could you say a bit more?" in turn.text
    answer = world.agent.reply(turn.session_id, "no, the harsh shadows are what I dislike")
    kinds = [m.kind for m in world.agent.transcript(turn.session_id) if m.role == "user"]
    assert kinds == ["comment", "followup"]
    assert ("harsh shadows", Polarity.DISLIKE) in polarities(list(answer.learned))
