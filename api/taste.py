"""Taste from choices as the HTTP routes and the CLI use it (design.md, "Taste from choices"):
the next pair to show, answers, the taste model kept up to date, the gallery ranked, and the
taste match of any image.

Glue only: the maths is ``preference_store.taste``, the pair choice ``agent.pair_choice``, the
features ``generation.taste_features``, the rows ``preference_store.choices``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from agent.extraction import Extractor
from agent.gallery import Gallery, GalleryImage
from agent.pair_choice import next_pair, unordered
from agent.pick_why import WhyRule, asked_why, picked_image, read_why, why_source
from api.errors import Unprocessable
from generation.taste_features import TasteFeatures
from preference_store.choices import Answer, Choice, ChoiceStore
from preference_store.errors import PairAnswered, PairNotFound
from preference_store.models import (
    AttributeDraft,
    ImageReaction,
    Polarity,
    Profile,
    VisualAttribute,
    utc_now,
)
from preference_store.taste import (
    DEFAULT_STRENGTH,
    Matrix,
    TasteModel,
    Vector,
    chosen_images,
    comparisons_from,
    pack,
    train,
    unpack,
)


def noted(learned: Sequence[VisualAttribute]) -> str:
    """The read-back of an answer to "what made you pick that one?"."""
    if not learned:
        return "Thanks: nothing I could keep from that."
    said = ", ".join(("+ " if a.polarity is Polarity.LIKE else "− ") + a.text for a in learned)
    return f"Noted: {said}."


@dataclass(frozen=True)
class Ranked:
    image: GalleryImage
    taste_match: float


class TasteService:
    """One person's choices and taste model over one gallery and feature space."""

    def __init__(
        self,
        gallery: Gallery,
        features: TasteFeatures,
        choices: ChoiceStore,
        profile_of: Callable[[str], Profile],
        keep_image: Callable[[Path], str] = str,
        why: WhyRule | None = None,
    ) -> None:
        """``keep_image``: a chosen gallery image's file here -> the path its reaction records
        (``agent.turn.ImageKeeper``, as for images liked in words); ``why``: when to ask
        "what made you pick that one?" (None: never)."""
        self.gallery = gallery
        self.features = features
        self.choices = choices
        self.profile_of = profile_of
        self.keep_image = keep_image
        self.why = why
        self._index = {image.id: i for i, image in enumerate(gallery.images)}
        self._lock = threading.Lock()  # one retrain per person at a time is plenty: ms each

    def rows(self) -> Matrix:
        """The gallery's feature rows (computed once per process)."""
        return self.features.gallery_rows(str(self.gallery.root), self._load)

    def _load(self) -> tuple[list[Image.Image], list[str], list[list[str]]]:
        images = self.gallery.images
        opened = []
        for image in images:
            with Image.open(self.gallery.path(image)) as picture:
                opened.append(picture.convert("RGB"))
        tags = [[t.text for t in i.tags] for i in images]
        return opened, [i.description for i in images], tags

    def _answers(self, history: Sequence[Choice]) -> list[tuple[int, int, int | None]]:
        """The answered pairs of this gallery, as gallery rows (left, right, winner)."""
        answers: list[tuple[int, int, int | None]] = []
        for choice in history:
            left = self._index.get(choice.left)
            right = self._index.get(choice.right or "")
            if left is None or right is None or choice.answer not in ("left", "right", "neither"):
                continue
            winner = {"left": left, "right": right}.get(choice.answer or "")
            answers.append((left, right, winner))
        return answers

    def _reactions(self, history: Sequence[Choice]) -> list[tuple[Vector, bool]]:
        """Likes and dislikes of generated images, as feature rows of this space."""
        found = []
        for choice in history:
            if choice.answer not in ("like", "dislike") or choice.features is None:
                continue
            if choice.feature_space != self.features.name:
                continue  # seen with another CLIP: its row means nothing here
            try:
                row = unpack(choice.features, self.features.width, allow_nan=True)
            except ValueError:
                continue
            found.append((row, choice.answer == "like"))
        return found

    def _count(self, history: Sequence[Choice]) -> int:
        return len(self._answers(history)) + len(self._reactions(history))

    def _shown(self, history: Sequence[Choice]) -> list[tuple[int, int]]:
        pairs = []
        for choice in history:
            left, right = self._index.get(choice.left), self._index.get(choice.right or "")
            if left is not None and right is not None:
                pairs.append(unordered((left, right)))
        return pairs

    def train(self, user_id: str, history: Sequence[Choice] | None = None) -> TasteModel:
        """The model from the profile's prior and every answer, without storing it."""
        rows = self.rows()
        history = self.choices.history(user_id) if history is None else history
        prior = self.features.prior(
            self.profile_of(user_id), rows, [i.id for i in self.gallery.images]
        )
        return train(
            rows,
            self._answers(history),
            prior,
            feature_space=self.features.name,
            reactions=self._reactions(history),
        )

    def model(self, user_id: str) -> TasteModel:
        """The stored model when it is up to date with the answers, else a retrained one."""
        history = self.choices.history(user_id)
        stored = self.choices.model(user_id, self.features.name)
        if stored is not None and stored.choices == self._count(history):
            return stored
        return self.train(user_id, history)

    def refresh(self, user_id: str) -> TasteModel:
        """Retrain and store (the next model version)."""
        with self._lock:
            return self.choices.save_model(user_id, self.train(user_id))

    def next_pair(self, user_id: str, session_id: str | None) -> Choice | None:
        """The pair waiting for an answer in this session, else the most informative new one
        (stored as shown); None when every pair of the gallery has been shown."""
        pending = self.choices.pending(user_id, session_id)
        if pending is not None:
            return pending
        history = self.choices.history(user_id)
        model = self.model(user_id)
        rows = self.rows()
        comparisons = comparisons_from(rows, self._answers(history), model.center)
        pair = next_pair(
            rows, model.weights, comparisons, self._shown(history), strength=DEFAULT_STRENGTH
        )
        if pair is None:
            return None
        images = self.gallery.images
        left, right = images[pair[0]], images[pair[1]]
        predicted = model.prefers(rows[pair[0]], rows[pair[1]])
        return self.choices.add(
            Choice(
                user_id=user_id,
                session_id=session_id,
                left=left.id,
                right=right.id,
                predicted=round(predicted, 6),
            )
        )

    def answer(
        self, user_id: str, session_id: str | None, pair_id: str, answer: Answer
    ) -> Choice | None:
        """Record the answer, retrain, and give the next pair (None: the gallery is spent)."""
        self.choices.answer(user_id, pair_id, answer, session_id=session_id)
        if answer != "skip":
            self.refresh(user_id)
        return self.next_pair(user_id, session_id)

    def asks_why(self, user_id: str, pair_id: str) -> str | None:
        """The picked image's id when "what made you pick that one?" follows this answered
        pair (``agent.pick_why``: a surprising pick, at most one per ``WHY_EVERY`` choices)."""
        history = self.choices.history(user_id)
        if self.why is None or pair_id not in asked_why(history, self.why):
            return None
        return picked_image(next(c for c in history if c.id == pair_id))

    def explain(
        self,
        user_id: str,
        session_id: str | None,
        pair_id: str,
        text: str,
        extractor: Extractor,
        add: Callable[[str, list[AttributeDraft]], list[VisualAttribute]],
    ) -> list[VisualAttribute]:
        """The person's answer to "what made you pick that one?" about ``pair_id``, read as a
        comment on the picked image and stored at once with ``add`` (``PreferenceStore.add``:
        one version, at most one per ``WHY_EVERY`` choices). PairNotFound for a pair not
        shown here, Unprocessable for one the question did not follow, PairAnswered for a
        second answer."""
        history = self.choices.history(user_id)
        choice = next((c for c in history if c.id == pair_id), None)
        if choice is None or (session_id is not None and choice.session_id != session_id):
            raise PairNotFound(pair_id)
        if self.why is None or pair_id not in asked_why(history, self.why):
            raise Unprocessable(f"pair {pair_id!r} was not followed by 'what made you pick it?'")
        source = why_source(pair_id)
        if any(a.source == source for a in self.profile_of(user_id).attributes):
            raise PairAnswered(pair_id, "explained")
        drafts = read_why(extractor, self.gallery, choice, text)
        return add(user_id, drafts) if drafts else []

    def ranking(self, user_id: str) -> list[Ranked]:
        """The gallery, best taste match first (ties in gallery order)."""
        matches = self.model(user_id).match(self.rows())
        order = np.argsort(-matches, kind="stable")
        images = self.gallery.images
        return [Ranked(images[i], round(float(matches[i]), 4)) for i in order]

    def picked(self, user_id: str) -> int:
        """How many gallery images this person picked at least once."""
        answers = self._answers(self.choices.history(user_id))
        return len({winner for _, _, winner in answers if winner is not None})

    def chosen(self, user_id: str) -> list[ImageReaction]:
        """The images this person picked, as liked images weighted by the model's confidence
        (``preference_store.taste.chosen_images``): what the profile's chosen images become at
        an onboarding's finish or the end of ``tastemaker pick`` (design.md, "Chosen images")."""
        history = self.choices.history(user_id)
        answers = self._answers(history)
        if not any(winner is not None for _, _, winner in answers):
            return []  # no pick: no features computed, no CLIP loaded
        images = self.gallery.images
        picked = chosen_images(self.model(user_id), self.rows(), answers)
        return [
            ImageReaction(
                image_id=images[i].id,
                weight=weight,
                path=self.keep_image(self.gallery.path(images[i])),
                chosen=True,
            )
            for i, weight in picked
        ]

    def has_signal(self, user_id: str) -> bool:
        """Whether the model knows anything of this person: choices, reactions, attributes or
        liked images (else every weight is 0 and every match 0.5)."""
        return bool(np.any(self.model(user_id).weights))

    def counted(self, user_id: str) -> int:
        """Answered pairs and reactions the model learns from."""
        return self._count(self.choices.history(user_id))

    def react(
        self, user_id: str, image_id: str, image: Image.Image, text: str | None, liked: bool
    ) -> Choice:
        """A like or dislike of an image outside the gallery (a generated one): a choice of it
        against an average gallery image, recorded with the taste match predicted before it
        (for the running agreement), and the model retrained. A second reaction to the same
        image replaces the first (a change of mind)."""
        row = self.features.rows([image], [text])
        predicted = float(self.model(user_id).match(row)[0])
        self.choices.forget_reaction(user_id, image_id)
        choice = self.choices.add(
            Choice(
                user_id=user_id,
                left=image_id,
                answer="like" if liked else "dislike",
                predicted=round(predicted, 6),
                answered_at=utc_now(),
                feature_space=self.features.name,
                features=pack(row[0]),
            )
        )
        self.refresh(user_id)
        return choice

    def agreement(self, user_id: str) -> tuple[float | None, int]:
        """How often the person's answers went the way the model predicted, and of how many."""
        verdicts = [c.agreed() for c in self.choices.history(user_id)]
        counted = [v for v in verdicts if v is not None]
        if not counted:
            return None, 0
        return round(sum(counted) / len(counted), 4), len(counted)

    def score(
        self, user_id: str, images: Sequence[Image.Image], texts: Sequence[str | None] = ()
    ) -> list[float]:
        """taste_match of each image (its description, when known, counts too)."""
        texts = list(texts) or [None] * len(images)
        model = self.model(user_id)
        return [round(float(m), 4) for m in model.match(self.features.rows(list(images), texts))]
