"""Scoring the ask-when-unsure dialogue on labelled comments (``bench/dialogue.py``).

A simulated person answers each question from the labels: "like" or "dislike" when the asked
phrase matches a labelled one (the matching rule of ``agent.evaluation``), "neither" when it
matches none; they volunteer nothing else. The agent's own rules choose what to ask
(``policy.question_for``, within ``policy.may_ask``'s budget over a session of comments); an
unsure item that is not asked, or answered "neither", is not stored. After an answer the agent
asks about the comment's next unsure item while the budget allows (``policy.question_of``).
Reported: the stored attributes before any answer (their polarity errors are the ones nobody
was asked about), the profile after the answers, and questions per comment; ``asking=False``
stores every guess, as the reader did before it could ask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agent import policy
from agent.evaluation import MATCH_THRESHOLD, Labelled, Score, overlap, score_one
from agent.extraction import Extraction
from preference_store.models import Polarity

SESSION_COMMENTS = 10  # comments per simulated onboarding (the policy asks for at least 8)


def labelled_polarity(row: Labelled, text: str) -> Polarity | None:
    """What the person would answer about ``text``: the polarity of the labelled phrase it
    matches best, or None ("neither") when it matches none."""
    labels = [(t, Polarity.LIKE) for t in row.liked] + [(t, Polarity.DISLIKE) for t in row.disliked]
    scored = [(overlap(text, label), polarity) for label, polarity in labels]
    best = max(scored, default=(0.0, None), key=lambda item: item[0])
    return best[1] if best[0] >= MATCH_THRESHOLD else None


@dataclass
class DialogueScore:
    before: Score = field(default_factory=Score)  # stored without asking anyone
    after: Score = field(default_factory=Score)  # the profile after the answers
    comments: int = 0
    questions: int = 0
    unsure: int = 0
    answered_neither: int = 0

    @property
    def questions_per_comment(self) -> float:
        return self.questions / self.comments if self.comments else 0.0


def simulate(
    rows: Sequence[Labelled],
    extractions: Sequence[Extraction],
    *,
    asking: bool = True,
    session_comments: int = SESSION_COMMENTS,
) -> DialogueScore:
    total = DialogueScore()
    asked_in_session = 0
    for number, (row, extraction) in enumerate(zip(rows, extractions, strict=True)):
        if number % session_comments == 0:
            asked_in_session = 0
        total.comments += 1
        total.unsure += len(extraction.unsure)
        if not asking:  # every guess stored, as before the reader could ask
            guesses = [u.attribute for u in extraction.unsure]
            stored = extraction.model_copy(update={"attributes": extraction.attributes + guesses})
            total.before.add(score_one(row, stored))
            total.after.add(score_one(row, stored))
            continue
        total.before.add(score_one(row, extraction))
        answered = list(extraction.attributes)
        left = list(extraction.unsure)
        comments_in_session = number % session_comments + 1
        for _ in range(policy.MAX_QUESTIONS_ABOUT_ONE_COMMENT):
            index = policy.question_for(left)
            if index is None or not policy.may_ask(asked_in_session, comments_in_session):
                break
            asked_in_session += 1
            total.questions += 1
            item = left.pop(index).attribute
            said = labelled_polarity(row, item.text)
            if said is None:
                total.answered_neither += 1
            else:
                answered.append(item.model_copy(update={"polarity": said}))
        total.after.add(score_one(row, extraction.model_copy(update={"attributes": answered})))
    return total
