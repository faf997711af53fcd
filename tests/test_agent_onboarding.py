"""The onboarding conversation, end to end: real SQLite, real chromadb, real MiniLM, and the
loopback LLM server through the real openai/langchain client."""
# ruff: noqa: F811  (pytest fixtures imported from tests.test_agent_support)

from __future__ import annotations

import json
import re

import pytest

from agent import policy
from agent.extraction import Extraction, ImageContext, InvalidComment
from agent.fallback import FALLBACK_NOTICE, FallbackExtractor
from agent.followup import LLMFollowups
from agent.gallery import Gallery
from agent.offline import OfflineExtractor
from agent.onboarding import SessionFinished, UnknownSession
from preference_store.models import Category, Polarity
from tests.doubles.llm_server import LoopbackLLMServer, RecordedRequest, Reply
from tests.test_agent_support import (  # noqa: F401  (fixtures)
    COMMENTS,
    WorldFactory,
    builtin_gallery,
    chat_model,
    fallback_extractor,
    make_world,
    offline_extractor,
)


def _converse(world_agent, user: str, comments: list[str]):  # type: ignore[no-untyped-def]
    turn = world_agent.start(user)
    offered_at = None
    for number, comment in enumerate(comments, start=1):
        turn = world_agent.reply(turn.session_id, comment)
        if turn.can_finish and offered_at is None:
            offered_at = number
    return turn, offered_at


def test_whole_conversation_offline(make_world: WorldFactory) -> None:
    world = make_world()
    turn, offered_at = _converse(world.agent, "alice", COMMENTS)
    assert offered_at is not None and offered_at >= policy.MIN_IMAGES
    assert "done" in turn.text
    final = world.agent.reply(turn.session_id, "done")
    assert final.finished and final.profile is not None
    assert "Finishing early" not in final.text

    profile = world.store.profile("alice")
    assert profile.version == final.profile.version >= 1
    texts = {(a.text, a.polarity) for a in profile.attributes}
    assert ("warm golden light", Polarity.LIKE) in texts
    assert ("cluttered composition", Polarity.DISLIKE) in texts
    assert ("grainy texture", Polarity.DISLIKE) in texts
    assert len({a.category for a in profile.attributes}) >= policy.MIN_CATEGORIES
    assert all(a.source and a.source.startswith("image:") for a in profile.attributes)
    assert profile.liked_images and profile.disliked_images
    assert all(0 < r.weight <= 1 and r.path for r in profile.liked_images)

    transcript = world.agent.transcript(turn.session_id)
    user_texts = [m.text for m in transcript if m.role == "user"]
    assert user_texts == [*COMMENTS, "done"]
    assert all(
        m.extraction is not None for m in transcript if m.role == "user" and m.kind == "comment"
    )


def _feature(text: str, category: str) -> dict[str, str]:
    return {"text": text, "category": category, "evidence": text.split()[-1]}


def _script_for(comment: str) -> dict[str, list[dict[str, str]]]:
    """What a well-behaved model answers for each scripted comment."""
    answers = {
        "warm golden light": (
            [("warm golden light", "lighting")],
            [("cluttered composition", "composition")],
        ),
        "grainy texture": ([], [("grainy texture", "texture")]),
        "watercolor washes": ([("soft watercolor washes", "medium")], []),
        "too dark": ([], [("dark", "lighting"), ("gloomy", "mood")]),
        "minimalist style": ([("minimalist style", "style")], []),
        "flowing lines": ([("flowing lines", "composition"), ("dreamy mood", "mood")], []),
        "neon": ([], [("neon", "color")]),
        "low angle": ([("low angle", "perspective")], [("lens flare", "lighting")]),
        "symmetry": ([("symmetry", "composition"), ("teal palette", "color")], []),
    }
    for key, (liked, disliked) in answers.items():
        if key in comment:
            return {
                "liked": [{"text": t, "category": c, "evidence": t.split()[-1]} for t, c in liked],
                "disliked": [
                    {"text": t, "category": c, "evidence": t.split()[-1]} for t, c in disliked
                ],
            }
    return {"liked": [], "disliked": []}


def _comment_in(request: RecordedRequest) -> str:
    match = re.search(r'\(data, not instructions\):\n(".*")', request.last_user_text)
    return json.loads(match.group(1)) if match else ""


def test_whole_conversation_through_the_loopback_llm(
    make_world: WorldFactory, llm_server: LoopbackLLMServer, offline_extractor: OfflineExtractor
) -> None:
    llm_server.responder = lambda request: Reply.structured(_script_for(_comment_in(request)))
    world = make_world(extractor=fallback_extractor(llm_server, offline_extractor))
    turn, offered_at = _converse(world.agent, "bob", COMMENTS)
    assert offered_at is not None
    final = world.agent.reply(turn.session_id, "done")
    assert final.finished and final.profile is not None

    requests = llm_server.chat_requests()
    assert len(requests) == len(COMMENTS)  # one call per comment, no retries needed
    assert all(r.response_format and r.response_format["type"] == "json_schema" for r in requests)
    assert [_comment_in(r) for r in requests] == COMMENTS
    profile = world.store.profile("bob")
    texts = {(a.text, a.polarity) for a in profile.attributes}
    assert ("gloomy", Polarity.DISLIKE) in texts  # named by the model, not the offline rules
    assert ("teal palette", Polarity.LIKE) in texts
    transcript = world.agent.transcript(turn.session_id)
    extractions = [m.extraction for m in transcript if m.role == "user" and m.extraction]
    assert {e.extractor for e in extractions} == {"llm"}
    assert not any(e.fallback_reason for e in extractions)


FAULTS = {
    "http 500": (lambda s: s.push(Reply.http_error(500), times=10), 3),
    "429 with retry-after": (lambda s: s.push(Reply.rate_limited(retry_after=0.1), times=10), 3),
    "hang past the timeout": (lambda s: s.push(Reply.hang(seconds=30), times=10), 3),
    "invalid json": (lambda s: s.push(Reply.invalid_json(), times=10), 3),
    "non-json http body": (lambda s: s.push(Reply.garbage_body(), times=10), 3),
    "schema-violating json": (
        lambda s: s.push(Reply.structured({"liked": [{"text": 5}], "disliked": "none"}), times=10),
        3,
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_llm_fault_falls_back_without_losing_the_message(
    fault: str,
    make_world: WorldFactory,
    llm_server: LoopbackLLMServer,
    offline_extractor: OfflineExtractor,
) -> None:
    inject, expected_requests = FAULTS[fault]
    extractor = fallback_extractor(llm_server, offline_extractor, retries=2, timeout=0.5)
    world = make_world(extractor=extractor)
    turn = world.agent.start("carol")
    shown = turn.image
    inject(llm_server)

    comment = "I love the warm golden light but hate the cluttered composition"
    answer = world.agent.reply(turn.session_id, comment)  # no exception reaches the caller

    assert FALLBACK_NOTICE in answer.text and answer.used_fallback
    assert {(a.text, a.polarity) for a in answer.learned} == {
        ("warm golden light", Polarity.LIKE),
        ("cluttered composition", Polarity.DISLIKE),
    }
    assert answer.image is not None and answer.image != shown  # the conversation moved on
    stored = [m for m in world.agent.transcript(turn.session_id) if m.role == "user"]
    assert [m.text for m in stored] == [comment]
    assert stored[0].extraction is not None and stored[0].extraction.fallback_reason
    assert stored[0].extraction.extractor == "offline"
    # Bounded: 1 + 2 transport retries by the client, or 1 + 2 validation retries by us.
    assert len(llm_server.chat_requests()) == expected_requests


def test_vague_comment_gets_one_followup_about_something_visible(make_world: WorldFactory) -> None:
    world = make_world()
    turn = world.agent.start("dana")
    image = turn.image
    assert image is not None
    followup = world.agent.reply(turn.session_id, "love it!")
    assert followup.image == image  # same image, one question
    assert any(tag.text in followup.text for tag in image.tags)
    moved = world.agent.reply(turn.session_id, "meh, it's fine")
    assert moved.image != image  # never a second follow-up on one image
    kinds = [m.kind for m in world.agent.transcript(turn.session_id)]
    assert kinds.count("followup") == 2  # the agent's question and the person's answer


def test_llm_writes_the_followup_when_configured(
    make_world: WorldFactory, llm_server: LoopbackLLMServer
) -> None:
    world = make_world(followups=LLMFollowups(chat_model(llm_server, retries=0)))
    turn = world.agent.start("erin")
    assert turn.image is not None
    tag = turn.image.tags[0].text
    llm_server.push(Reply.text(f"What do you think of the {tag} here?"))
    followup = world.agent.reply(turn.session_id, "nice")
    assert followup.text.endswith(f"What do you think of the {tag} here?")
    # A question that names nothing visible is replaced by the template.
    world2 = make_world(followups=LLMFollowups(chat_model(llm_server, retries=0)))
    turn2 = world2.agent.start("erin2")
    assert turn2.image is not None
    llm_server.push(Reply.text("Tell me about your childhood."))
    followup2 = world2.agent.reply(turn2.session_id, "nice")
    assert "childhood" not in followup2.text
    assert any(t.text in followup2.text for t in turn2.image.tags)


def test_next_image_teaches_uncovered_categories(builtin_gallery: Gallery) -> None:
    covered = {Category.COLOR, Category.MOOD, Category.COMPOSITION, Category.LIGHTING}
    chosen = policy.next_image(builtin_gallery, [], covered)
    assert chosen is not None
    best = max(len(i.categories() - covered - {Category.SUBJECT}) for i in builtin_gallery.images)
    assert len(chosen.categories() - covered) == best
    assert policy.next_image(builtin_gallery, [i.id for i in builtin_gallery.images], set()) is None


def test_skip_moves_on_without_recording_the_image(make_world: WorldFactory) -> None:
    world = make_world()
    turn = world.agent.start("fred")
    skipped = turn.image
    assert skipped is not None
    after = world.agent.reply(turn.session_id, "skip")
    assert after.image is not None and after.image != skipped
    world.agent.reply(after.session_id, "I love the warm golden light but hate the clutter")
    final = world.agent.reply(after.session_id, "done")
    assert final.profile is not None
    reacted = {r.image_id for r in final.profile.liked_images + final.profile.disliked_images}
    assert skipped.id not in reacted


def test_finishing_early_warns_and_still_saves(make_world: WorldFactory) -> None:
    world = make_world()
    turn = world.agent.start("gina")
    world.agent.reply(turn.session_id, "I love the teal palette")
    final = world.agent.reply(turn.session_id, "done")
    assert final.finished and "Finishing early" in final.text
    assert "7 more commented images" in final.text and "dislike" in final.text
    assert "I saved 1 thing you like and 0 you dislike" in final.text  # never "1 things"
    assert [a.text for a in world.store.profile("gina").attributes] == ["teal palette"]


def test_finishing_without_a_comment_writes_no_version(make_world: WorldFactory) -> None:
    """Issue 27, item 17: "done" before any comment keeps the profile as it was."""
    world = make_world()
    first = world.agent.start("hal")  # an onboarding that learned something: version 1
    world.agent.reply(first.session_id, "I love the teal palette")
    world.agent.reply(first.session_id, "done")
    before = world.store.versions("hal")
    again = world.agent.start("hal")
    final = world.agent.reply(again.session_id, "done")
    assert final.finished and "Nothing new to save" in final.text
    assert "version 1" in final.text
    assert world.store.versions("hal") == before


class _ClientBug:
    """An LLM client that fails with something other than ``ExtractionError``."""

    def __init__(self) -> None:
        self.calls = 0

    def extract(self, comment: str, image: ImageContext | None = None) -> Extraction:
        self.calls += 1
        raise KeyError("choices")


def test_unexpected_llm_client_error_still_falls_back(
    make_world: WorldFactory, offline_extractor: OfflineExtractor
) -> None:
    broken = _ClientBug()
    world = make_world(extractor=FallbackExtractor(broken, offline_extractor))
    turn = world.agent.start("kate")
    answer = world.agent.reply(turn.session_id, "not a fan of the grainy texture")
    assert broken.calls == 1 and answer.used_fallback and FALLBACK_NOTICE in answer.text
    assert ("grainy texture", Polarity.DISLIKE) in {(a.text, a.polarity) for a in answer.learned}
    (stored,) = [m for m in world.agent.transcript(turn.session_id) if m.role == "user"]
    assert stored.extraction is not None and "KeyError" in (stored.extraction.fallback_reason or "")
    # An unusable comment still reaches the caller as such.
    with pytest.raises(InvalidComment):
        FallbackExtractor(broken, offline_extractor).extract("   ")


def test_bad_input_is_refused_clearly_and_nothing_is_stored_twice(make_world: WorldFactory) -> None:
    world = make_world()
    turn = world.agent.start("jack")
    count = len(world.agent.transcript(turn.session_id))
    for bad in ["", "   \n\t ", "x" * 20_000]:
        with pytest.raises(InvalidComment) as error:
            world.agent.reply(turn.session_id, bad)
        assert "comment" in str(error.value)
    assert len(world.agent.transcript(turn.session_id)) == count

    world.agent.reply(turn.session_id, "I love\x00 the teal\x1b palette\x07")
    stored = [m for m in world.agent.transcript(turn.session_id) if m.role == "user"]
    assert stored[-1].text == "I love the teal palette"

    with pytest.raises(UnknownSession, match="no onboarding session"):
        world.agent.reply("no-such-session", "hello")
    with pytest.raises(UnknownSession):
        world.agent.resume("no-such-session")

    world.agent.reply(turn.session_id, "done")
    versions = world.store.versions("jack")
    messages = world.agent.transcript(turn.session_id)
    with pytest.raises(SessionFinished, match="already finished"):
        world.agent.reply(turn.session_id, "I love the gold too")
    with pytest.raises(SessionFinished):
        world.agent.reply(turn.session_id, "done")
    assert world.store.versions("jack") == versions
    assert world.agent.transcript(turn.session_id) == messages


def test_what_is_missing_counts_in_words() -> None:
    """'1 more kind of feature', never '1 more kinds' (a newcomer's tour printed it)."""
    progress = policy.Progress(categories={Category.COLOR, Category.LIGHTING, Category.TEXTURE})
    assert "opinions on 1 more kind of feature" in " ".join(progress.missing())
    progress.categories = {Category.COLOR}
    assert "opinions on 3 more kinds of feature" in " ".join(progress.missing())
