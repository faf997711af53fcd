"""Verdicts given by marks instead of words: ✔️/❌ checklists, "pros:"/"cons:", emoji.

A checklist mark is a verdict the person chose deliberately ("✔️ soft window light ❌ the
watermark"), so its reading is an ordinary one (``source:mark``). An emoji is not
(😍 is praise, 💀 may be laughter, 🔥 may be literal): its reading is a guess the agent asks
about (``source:emoji``, a known-hard reading in ``doubt``). Several marks in one stretch of
text split it into one scope per mark: before the items when the text opens with a mark
("✔️ X ❌ Y"), after them otherwise ("X 😍 Y 🙄").
"""

from __future__ import annotations

import re
from itertools import pairwise

from preference_store.models import Polarity

CHECK_LIKE = frozenset("✔✓✅☑")
CHECK_DISLIKE = frozenset("❌✖✗✘❎")
EMOJI_LIKE = frozenset("😍🥰😻❤💕💖💗💯🔥✨👍👌🙌👏🤩😊🙂😀😁🥹💚💙💜🧡💛⭐🌟😋🤤")
EMOJI_DISLIKE = frozenset("👎🤮🤢😬😒🙄😕🙁☹😞😖😣😴🥱")
_LABELS = re.compile(r"(?im)^\s*(pros?|likes?|cons?|dislikes?)\s*:")
_LABEL_POLARITY = {"pro": Polarity.LIKE, "like": Polarity.LIKE, "con": Polarity.DISLIKE,
                   "dislike": Polarity.DISLIKE}  # fmt: skip
_CLUSTER = re.compile(
    "[" + re.escape("".join(CHECK_LIKE | CHECK_DISLIKE | EMOJI_LIKE | EMOJI_DISLIKE)) + r"]"
    r"[\ufe0f\u200d\U0001f3fb-\U0001f3ff\s]*"
)


def labels_as_marks(text: str) -> str:
    """ "pros: X, Y" / "cons: Z" at the start of a line → the checkmarks they stand for."""
    return _LABELS.sub(
        lambda m: (
            " ✔ " if _LABEL_POLARITY[m.group(1).lower().rstrip("s")] is Polarity.LIKE else " ❌ "
        ),
        text,
    )


def mark_of(text: str) -> tuple[Polarity, str] | None:
    """The verdict of the marks in ``text`` and their kind (``mark`` or ``emoji``); None when
    there are none, or they disagree."""
    chars = set(text)
    likes, dislikes = chars & (CHECK_LIKE | EMOJI_LIKE), chars & (CHECK_DISLIKE | EMOJI_DISLIKE)
    if bool(likes) == bool(dislikes):
        return None
    found = likes or dislikes
    kind = "mark" if found <= CHECK_LIKE | CHECK_DISLIKE else "emoji"
    return (Polarity.LIKE if likes else Polarity.DISLIKE), kind


def split_marked(text: str) -> list[str]:
    """``text`` as one piece per mark when it holds several (see the module docstring)."""
    clusters = list(_CLUSTER.finditer(text))
    if len(clusters) < 2:
        return [text]
    leading = not text[: clusters[0].start()].strip()
    pieces: list[str] = []
    if leading:
        starts = [c.start() for c in clusters] + [len(text)]
        pieces = [text[a:b] for a, b in pairwise(starts)]
    else:
        position = 0
        for cluster in clusters:
            pieces.append(text[position : cluster.end()])
            position = cluster.end()
        pieces.append(text[position:])
    return [p for p in pieces if p.strip()]
