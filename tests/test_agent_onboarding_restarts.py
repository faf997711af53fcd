"""The onboarding conversation across restarts, crashes and repeated finishes: real SQLite,
real chromadb, real MiniLM; nothing a person said is lost or recorded twice."""
# ruff: noqa: F811  (pytest fixtures imported from tests.test_agent_support)

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from agent.extraction import Extraction, ImageContext, ImageTag
from agent.gallery import Gallery, GalleryImage, GalleryManifest, load_gallery, write_manifest
from agent.offline import OfflineExtractor
from agent.onboarding import OnboardingAgent
from agent.sessions import SessionRepository
from preference_store.database import make_engine
from preference_store.models import Category, Polarity, Profile
from tests.test_agent_support import (  # noqa: F401  (fixtures)
    COMMENTS,
    AgentWorld,
    WorldFactory,
    builtin_gallery,
    chat_model,
    fallback_extractor,
    make_world,
    offline_extractor,
)


def test_restart_repeats_an_open_followup_question(make_world: WorldFactory) -> None:
    first = make_world()
    turn = first.agent.start("lena")
    question = first.agent.reply(turn.session_id, "nice")
    resumed = make_world().agent.resume(turn.session_id)
    assert resumed.image == question.image
    asked = question.text[question.text.index("Could you say") :]
    assert resumed.text.endswith(asked)
    answer = make_world().agent.reply(turn.session_id, "I love the teal palette")
    assert answer.image != question.image
    kinds = [m.kind for m in first.agent.transcript(turn.session_id) if m.role == "user"]
    assert kinds == ["comment", "followup"]  # the answer is filed as the follow-up's answer


def test_restart_resumes_at_the_same_image_with_every_message(make_world: WorldFactory) -> None:
    first = make_world()
    turn = first.agent.start("hank")
    for comment in COMMENTS[:3]:
        turn = first.agent.reply(turn.session_id, comment)
    where = turn.image
    before = first.agent.transcript(turn.session_id)

    second = make_world()  # a new process over the same database
    assert second.agent.active_session("hank") == turn.session_id
    resumed = second.agent.resume(turn.session_id)
    assert resumed.image == where
    assert "Welcome back" in resumed.text
    assert second.agent.transcript(turn.session_id) == before

    for comment in COMMENTS[3:]:
        resumed = second.agent.reply(turn.session_id, comment)
    final = second.agent.reply(turn.session_id, "done")
    assert final.finished
    user_texts = [m.text for m in second.agent.transcript(turn.session_id) if m.role == "user"]
    assert user_texts == [*COMMENTS, "done"]
    shown = [m.image_id for m in second.agent.transcript(turn.session_id) if m.kind == "show"]
    assert len(shown) == len(set(shown))  # no image shown twice across the restart


def _other_gallery(root: Path) -> Gallery:
    """A two-image gallery of one's own, sharing no id with the built-in one."""
    images = []
    for name, colour in (("own-red", (200, 30, 30)), ("own-blue", (30, 30, 200))):
        Image.new("RGB", (16, 16), colour).save(root / f"{name}.png")
        tag = ImageTag(text=f"flat {name.split('-')[1]} field", category=Category.COLOR)
        images.append(
            GalleryImage(id=name, file=f"{name}.png", description=f"a flat {name}", tags=[tag])
        )
    write_manifest(root, GalleryManifest(name="own", images=images))
    return load_gallery(root)


def test_session_survives_a_gallery_change(
    make_world: WorldFactory, offline_extractor: OfflineExtractor, tmp_path: Path
) -> None:
    """The operator switched galleries between a session's start and its resumption: the
    session moves on to the new gallery's images and still finishes with what was said."""
    first = make_world()
    turn = first.agent.start("otto")
    first.agent.reply(turn.session_id, "I love the teal palette")
    question = first.agent.reply(turn.session_id, "nice")  # a pending follow-up on an old image
    assert question.image is not None
    world = make_world()
    (tmp_path / "own").mkdir()
    other = _other_gallery(tmp_path / "own")
    moved = OnboardingAgent(
        sessions=world.sessions, store=world.store, extractor=offline_extractor, gallery=other
    )
    resumed = moved.resume(turn.session_id)
    assert resumed.image is not None and resumed.image.id in {"own-red", "own-blue"}
    final = moved.reply(turn.session_id, "done")
    assert final.finished and final.profile is not None
    assert "teal palette" in {a.text for a in final.profile.attributes}
    reacted = final.profile.liked_images + final.profile.disliked_images
    assert all(r.path is None for r in reacted if not r.image_id.startswith("own-"))


class _SecondDoneWhileStoring:
    """The real store; while it writes the profile, another agent over the same database (a
    second process, or a second tab) says "done" to the same session."""

    def __init__(self, world: AgentWorld, other: OnboardingAgent, session_id: str) -> None:
        self.world, self.other, self.session_id = world, other, session_id
        self.other_versions: list[int] = []

    def record_onboarding(self, user_id, drafts, liked_images, disliked_images, *, origin,  # type: ignore[no-untyped-def]
                          chosen=None):  # fmt: skip
        other = self.other.reply(self.session_id, "done")
        assert other.profile is not None
        self.other_versions.append(other.profile.version)
        return self.world.store.record_onboarding(
            user_id, drafts, liked_images, disliked_images, origin=origin, chosen=chosen
        )


def test_two_finishes_of_one_session_record_it_once(
    make_world: WorldFactory, offline_extractor: OfflineExtractor
) -> None:
    world = make_world()
    turn = world.agent.start("pia")
    world.agent.reply(turn.session_id, "I love the teal palette")
    racer = _SecondDoneWhileStoring(world, make_world().agent, turn.session_id)
    finishing = OnboardingAgent(
        sessions=world.sessions, store=racer, extractor=offline_extractor, gallery=world.gallery
    )
    final = finishing.reply(turn.session_id, "done")
    assert final.finished and final.profile is not None
    assert racer.other_versions == [final.profile.version]  # both answer the one version
    assert [v.version for v in world.store.versions("pia")] == [final.profile.version]


class _FailingStore:
    def __init__(self) -> None:
        self.calls = 0

    def record_onboarding(
        self, *args: object, origin: str | None = None, chosen: object = None
    ) -> Profile:
        self.calls += 1
        raise RuntimeError("chromadb is down")


def test_a_failed_finish_can_be_retried(
    make_world: WorldFactory, offline_extractor: OfflineExtractor
) -> None:
    world = make_world()
    turn = world.agent.start("quin")
    world.agent.reply(turn.session_id, "I love the teal palette")
    failing = _FailingStore()
    broken = OnboardingAgent(
        sessions=world.sessions, store=failing, extractor=offline_extractor, gallery=world.gallery
    )
    with pytest.raises(RuntimeError, match="chromadb is down"):
        broken.reply(turn.session_id, "done")
    assert failing.calls == 1
    info = world.sessions.get(turn.session_id)
    assert info is not None and info.status == "active"  # the claim was given back
    final = world.agent.resume(turn.session_id)  # answers the stored "done"
    assert final.finished and [v.version for v in world.store.versions("quin")] == [1]


def test_a_finish_claim_left_by_a_dead_process_never_blocks(make_world: WorldFactory) -> None:
    world = make_world()
    turn = world.agent.start("rita")
    world.agent.reply(turn.session_id, "I love the teal palette")
    dead = SessionRepository(make_engine(f"sqlite:///{world.root / 'tastemaker.db'}"))
    assert dead.claim_finish(turn.session_id)  # ...and that process dies here
    final = world.agent.reply(turn.session_id, "done")  # at once: no lease to wait out
    assert final.finished and len(world.store.versions("rita")) == 1


class _Killed(RuntimeError):
    """Stands for the process dying while the model runs."""


class _DiesDuringExtraction:
    def extract(self, comment: str, image: ImageContext | None = None) -> Extraction:
        raise _Killed("killed mid-extraction")


def test_message_stored_before_a_crash_is_answered_after_restart(make_world: WorldFactory) -> None:
    dying = make_world(extractor=_DiesDuringExtraction())
    turn = dying.agent.start("ivy")
    comment = "not a fan of the grainy texture"
    with pytest.raises(_Killed):
        dying.agent.reply(turn.session_id, comment)

    restarted = make_world()
    stored = restarted.agent.transcript(turn.session_id)
    assert stored[-1].text == comment and stored[-1].pending  # durable before extraction
    answer = restarted.agent.resume(turn.session_id)
    assert ("grainy texture", Polarity.DISLIKE) in {(a.text, a.polarity) for a in answer.learned}
    after = restarted.agent.transcript(turn.session_id)
    assert [m.text for m in after if m.role == "user"] == [comment]  # not stored twice
    assert not any(m.pending for m in after)
