"""Asking instead of guessing (issue 21): the reader says which features it cannot vouch for,
the agent asks one short question about the one that matters most, an answer (like, dislike,
neither, or words) is stored as the person said it, and an unanswered one is never stored.
Every sentence here is new (none is copied from a labelled set). Real SQLite, real chromadb,
the real offline reader over the real MiniLM."""
# ruff: noqa: F811  (pytest fixtures imported from tests.test_agent_support)

from __future__ import annotations

import pytest

from agent.corrections import labelled_case
from agent.evaluation import overlap
from agent.offline import OfflineExtractor
from agent.onboarding import Turn
from preference_store.models import Polarity
from tests.test_agent_support import (  # noqa: F401  (fixtures)
    AgentWorld,
    WorldFactory,
    builtin_gallery,
    make_world,
    offline_extractor,
)

LIKE, DISLIKE = Polarity.LIKE, Polarity.DISLIKE
FLARE = "Love how there's a lens flare on every window. Very understated."
QUESTION = "Quick check — the lens flare: is that something you like?"


@pytest.mark.parametrize(
    ("comment", "feature"),
    [
        (FLARE, "lens flare"),  # sarcasm that no marker word gives away
        ("It's not that I don't like the film grain.", "film grain"),  # double negation
        ("Can't say I'm not fond of the grainy texture.", "grainy texture"),
        ("The shadows aren't deep enough.", "deep shadows"),  # not X enough: wants more
        ("I'd love it if the sky were darker.", "darker sky"),  # a conditional wish
        ("The palette is warmer than usual, which I'm into.", "palette"),  # the other side unseen
        ("the washed out blues kill me, in a good way", "washed out blues"),  # flaw words, loved
        ("pastel palette 😍", "pastel palette"),  # an emoji verdict: read, then asked
        ("the halftone dots 👍 the drop shadow 👎", "drop shadow"),
        # round 4: constructions behind the confident misreadings of round 3's blind sets,
        # each on a new sentence
        ("the colours are loud and tacky and I adore them", "loud colours"),  # both ways
        ("The grain is so heavy it feels like sandpaper, and I'm here for it.", "heavy grain"),
        ("The halftone texture is hideous in the best sense.", "halftone texture"),
        ("the mountains melt into the haze", "haze"),  # "into" as a place, not a liking
        ("love how the jpeg artifacts crawl over the sky", "jpeg artifacts"),  # a flaw praised
        ("Oh joy, a sunset. Love the glowing rim light.", "glowing rim light"),  # sarcasm nearby
        ("The sky is a neon pink nobody has ever seen, wonderful.", "sky"),  # praise tacked on
        ("The greens might perhaps be a little deeper.", "deeper greens"),  # a modal wish
        ("i dont not enjoy the film grain", "film grain"),  # a typed double negative
        ("Wouldn't mind a softer vignette.", "softer vignette"),  # a litotes
        # round 5: constructions behind blind 7's confident misreadings, on new sentences
        ("I wouldn't call the muted teal palette dull.", "muted teal palette"),  # litotes
        ("Those long shadows are hard not to like.", "long shadows"),  # "hard not to"
        ("The linework is pretty clearly traced.", "linework"),  # "pretty" as "rather"
        ("The pixel grid is so crude and I adore it for that.", "crude pixel grid"),  # both ways
    ],
)
def test_a_hard_construction_is_asked_about_not_stored(
    offline_extractor: OfflineExtractor, comment: str, feature: str
) -> None:
    extraction = offline_extractor.extract(comment)
    assert any(overlap(u.attribute.text, feature) >= 0.5 for u in extraction.unsure), extraction
    assert not any(overlap(a.text, feature) >= 0.5 for a in extraction.attributes)
    assert all(u.reason and u.confidence < 0.9 for u in extraction.unsure)


@pytest.mark.parametrize(
    "comment",
    [
        "I love the teal palette but the clutter bothers me.",
        "The harsh flash shadows ruin it.",
        "Gorgeous soft window light.",
        "I love the soft light and hate the harsh shadows.",  # each verdict on its own phrase
    ],
)
def test_a_plain_comment_is_stored_without_a_question(
    offline_extractor: OfflineExtractor, comment: str
) -> None:
    extraction = offline_extractor.extract(comment)
    assert extraction.attributes and not extraction.unsure


def test_a_checklist_is_read_mark_by_mark(offline_extractor: OfflineExtractor) -> None:
    """A ✔️/❌ (or pros/cons) list is a verdict the person chose: stored, not asked."""
    checklist = offline_extractor.extract("✔️ soft window light ❌ the watermark")
    assert {(a.text, a.polarity) for a in checklist.attributes} == {
        ("soft window light", LIKE),
        ("watermark", DISLIKE),
    }
    listed = offline_extractor.extract("pros: soft light, warm tones\ncons: heavy vignette")
    assert {(a.text, a.polarity) for a in listed.attributes} == {
        ("soft light", LIKE),
        ("warm tones", LIKE),
        ("heavy vignette", DISLIKE),
    }
    assert not checklist.unsure and not listed.unsure


def ask(make_world: WorldFactory, comment: str = FLARE) -> tuple[AgentWorld, Turn]:
    world = make_world()
    first = world.agent.start("alice")
    turn = world.agent.reply(first.session_id, comment)
    assert turn.text.endswith(QUESTION), turn.text
    assert turn.image == first.image  # it waits for the answer on the same image
    assert [(i, a.text) for i, a in turn.unsure] == [(len(turn.learned), "lens flare")]
    assert all(a.text != "lens flare" for a in turn.learned)
    return world, turn


@pytest.mark.parametrize(
    ("answer", "stored"),
    [
        ("like", LIKE),
        ("dislike", DISLIKE),
        ("ha, no, hated it", DISLIKE),
        ("yes, loved it", LIKE),
        ("neither", None),
        ("not sure", None),
    ],
)
def test_an_answer_is_stored_as_the_person_said_it(
    make_world: WorldFactory, answer: str, stored: Polarity | None
) -> None:
    world, asked = ask(make_world)
    turn = world.agent.reply(asked.session_id, answer)
    assert turn.image != asked.image  # answered: on to the next image
    if stored is None:
        assert turn.text.startswith("Okay, I'll leave lens flare out.")
    else:
        assert turn.text.startswith(f"Got it: {'+' if stored is LIKE else '−'} lens flare.")
    final = world.agent.reply(asked.session_id, "done")
    assert final.profile is not None
    found = {a.text: a for a in final.profile.attributes}
    if stored is None:
        assert "lens flare" not in found
    else:
        assert found["lens flare"].polarity is stored
        assert any(answer in e for e in found["lens flare"].evidence)
        assert found["lens flare"].source == f"image:{asked.image.id}"  # type: ignore[union-attr]


def test_an_unanswered_question_stores_nothing(make_world: WorldFactory) -> None:
    world, asked = ask(make_world)
    # The person goes on commenting instead: the question lapses, the comment is read.
    turn = world.agent.reply(asked.session_id, "The teal palette is gorgeous.")
    assert "teal palette" in turn.text and QUESTION not in turn.text
    final = world.agent.reply(asked.session_id, "done")
    assert final.profile is not None
    texts = {a.text for a in final.profile.attributes}
    assert "teal palette" in texts and "lens flare" not in texts


def test_a_click_answers_the_open_question_and_moves_on(make_world: WorldFactory) -> None:
    world, asked = ask(make_world)
    [(index, _)] = [(i, a) for i, a in asked.unsure if a.text == "lens flare"]
    assert asked.message_id is not None
    turn = world.agent.correct(asked.session_id, asked.message_id, index, "dislike")
    assert turn.text.startswith("Got it: − lens flare.") and turn.image != asked.image
    assert ("lens flare", DISLIKE) in {(a.text, a.polarity) for a in turn.learned}
    assert not any(a.text == "lens flare" for _, a in turn.unsure)


def test_at_most_half_a_question_per_comment(make_world: WorldFactory) -> None:
    world = make_world()
    session = world.agent.start("alice").session_id
    asked = 0
    for comment in [
        FLARE,
        "skip",  # not a comment: it neither asks nor counts
        "It's not that I don't like the film grain.",
        "The shadows aren't deep enough.",
        "I'd love it if the sky were darker.",
    ]:
        turn = world.agent.reply(session, comment)
        asked += "Quick check" in turn.text
        if "Quick check" in turn.text:
            turn = world.agent.reply(session, "neither")
    assert asked == 2  # 4 comments, each with something unsure: 2 questions


def test_an_answer_is_followed_by_the_same_comments_next_question_while_budget_is_left(
    make_world: WorldFactory,
) -> None:
    """Plain comments leave budget (half a question a comment): after the first answer the
    agent asks about the same comment's other unsure feature, on the same image, then moves on.
    Both answers are stored."""
    world = make_world()
    session = world.agent.start("alice").session_id
    for plain in ["The teal palette is gorgeous.", "I hate the harsh flash.",
                  "The soft window light is lovely."]:  # fmt: skip
        assert "Quick check" not in world.agent.reply(session, plain).text
    two = "It's not that I don't like the film grain, and I'd love it if the sky were darker."
    first = world.agent.reply(session, two)
    assert {a.text for _, a in first.unsure} == {"film grain", "darker sky"}
    assert first.text.count("Quick check") == 1  # one question a turn
    asked_first = (
        "film grain" if "film grain" in first.text.split("Quick check")[1] else "darker sky"
    )
    other = ({"film grain", "darker sky"} - {asked_first}).pop()
    second = world.agent.reply(session, "like")
    assert second.text.startswith(f"Got it: + {asked_first}.")
    assert second.text.endswith(f"Quick check — the {other}: is that something you like?")
    assert second.image == first.image  # still the same image: the answer is about it
    assert [a.text for _, a in second.unsure] == [other]
    third = world.agent.reply(session, "yes")
    assert third.text.startswith(f"Got it: + {other}.") and third.image != first.image
    final = world.agent.reply(session, "done")
    assert final.profile is not None
    liked = {a.text for a in final.profile.attributes if a.polarity is LIKE}
    assert {"film grain", "darker sky"} <= liked


def test_no_second_question_when_the_budget_is_spent(make_world: WorldFactory) -> None:
    """The first comment may ask once; with two unsure features, the answer moves on."""
    world = make_world()
    session = world.agent.start("alice").session_id
    two = "It's not that I don't like the film grain, and I'd love it if the sky were darker."
    first = world.agent.reply(session, two)
    assert "Quick check" in first.text
    answered = world.agent.reply(session, "neither")
    assert "Quick check" not in answered.text and answered.image != first.image
    final = world.agent.reply(session, "done")
    assert final.profile is not None  # one unasked item: never stored
    assert len({"film grain", "darker sky"} & {a.text for a in final.profile.attributes}) == 0


def test_a_restart_repeats_the_open_question(make_world: WorldFactory) -> None:
    _, asked = ask(make_world)
    again = make_world()  # a new process over the same files
    turn = again.agent.resume(asked.session_id)
    assert turn.text.endswith(QUESTION) and turn.image == asked.image
    answered = again.agent.reply(asked.session_id, "like")
    assert answered.text.startswith("Got it: + lens flare.")


def test_corrections_reach_the_image_verdict(make_world: WorldFactory) -> None:
    """ "I hate the fog and the gradient is ugly", then both flipped: the profile likes them,
    and so the image they were said of counts as liked (it fed the wrong images before)."""
    world = make_world()
    session = world.agent.start("alice").session_id
    turn = world.agent.reply(session, "I hate the fog and the gradient is ugly")
    assert {(a.text, a.polarity) for a in turn.learned} == {("fog", DISLIKE), ("gradient", DISLIKE)}
    image = turn.image
    assert image is not None
    world.agent.reply(session, "flip 1")
    world.agent.reply(session, "flip 2")
    final = world.agent.reply(session, "done")
    assert final.profile is not None
    assert {(a.text, a.polarity) for a in final.profile.attributes} == {
        ("fog", LIKE),
        ("gradient", LIKE),
    }
    liked = {r.image_id for r in final.profile.liked_images}
    disliked = {r.image_id for r in final.profile.disliked_images}
    commented = world.sessions.messages(session)[1].image_id
    assert commented in liked and commented not in disliked


def test_a_correction_in_words_keeps_the_persons_words(make_world: WorldFactory) -> None:
    """ "the fog is dull", then "no, I liked the fog": what is liked is the fog, not "dull fog",
    in the profile and in the exported correction log."""
    world = make_world()
    session = world.agent.start("alice").session_id
    turn = world.agent.reply(session, "the fog is dull")
    assert [(a.text, a.polarity) for a in turn.learned] == [("dull fog", DISLIKE)]
    fixed = world.agent.reply(session, "no, I liked the fog")
    assert fixed.text == "Fixed. Noted now: 1 + fog."
    final = world.agent.reply(session, "done")
    assert final.profile is not None
    assert [(a.text, a.polarity) for a in final.profile.attributes] == [("fog", LIKE)]
    [(message, stored)] = world.sessions.corrected_messages()
    case = labelled_case(message, stored, None)
    assert case["liked"] == ["fog"] and case["disliked"] == []
