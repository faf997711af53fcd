"""Stage 7: phrases with a polarity → the ``Extraction`` (drafts, notes, vagueness).

Nothing vague is stored: a phrase that only names a category ("love the colors") is named from
the image's tags (or its description) instead; with nothing to name it from, it becomes a note
and ``vague=True``, so the agent asks a follow-up question (``agent.policy``). A phrase said
both ways in one comment is dropped (no clear preference), as ViPer does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agent import lexicon
from agent.extraction import Extraction, ImageContext, ImageTag, UnsureItem
from agent.offline import doubt
from agent.offline.category import curated_category
from agent.offline.doubt import Calibration
from agent.offline.pairing import Run
from agent.offline.segment import Clause
from agent.offline.verdict import clause_verdict, local_marker
from agent.vocabulary import CATEGORY_HEADS
from preference_store.models import MAX_ATTRIBUTE_WORDS, AttributeDraft, Category, Polarity

LIKE, DISLIKE = Polarity.LIKE, Polarity.DISLIKE
FROM_IMAGE_MAX_STRENGTH = 0.6


def limit(text: str) -> str:
    """Keep the last words of a long phrase (the head noun is at the end in English)."""
    words = text.split()
    return " ".join(words[-MAX_ATTRIBUTE_WORDS:])[:80].strip()


@dataclass
class _Drafts:
    """Drafts by text, with how each was read; a text said both ways is a conflict."""

    by_text: dict[str, AttributeDraft] = field(default_factory=dict)
    read: dict[str, list[str]] = field(default_factory=dict)
    conflicts: set[str] = field(default_factory=set)

    def add(self, draft: AttributeDraft, read: list[str]) -> None:
        key = draft.text.casefold()
        existing = self.by_text.get(key)
        if existing is not None and existing.polarity is not draft.polarity:
            self.conflicts.add(key)
        self.by_text.setdefault(key, draft)
        self.read.setdefault(key, read)

    def split(self, table: Calibration) -> tuple[list[AttributeDraft], list[UnsureItem]]:
        """The drafts the reading vouches for, and the rest as unsure items (asked)."""
        sure: list[AttributeDraft] = []
        unsure: list[UnsureItem] = []
        for key, draft in self.by_text.items():
            read = self.read[key]
            confidence = table.confidence(read)
            if confidence >= table.threshold:
                sure.append(draft)
                continue
            unsure.append(
                UnsureItem(
                    attribute=draft,
                    reason=doubt.reason(read, table),
                    confidence=round(confidence, 3),
                    readings=read,
                )
            )
        return sure, unsure


def build(
    clauses: Sequence[Clause],
    ignored: list[str],
    image: ImageContext | None,
    similar: Callable[..., list[Category | None]],
    image_tags: Callable[[ImageContext | None, Category], list[ImageTag]],
    table: Calibration,
) -> Extraction:
    notes: list[str] = []
    ignored_phrases = list(ignored)
    if ignored:
        notes.append("left out text addressed to the system rather than about the image")
    opinion = False
    from_image = False
    own_attributes = 0
    verdicts: list[Polarity] = []
    resolved = _categorised(clauses, similar)
    for clause in clauses:
        verdict = clause_verdict(clause.tokens)
        if verdict is not None:
            opinion = True
            if all(curated_category(r) in {None, Category.SUBJECT} for r in clause.runs):
                verdicts.append(verdict)
    drafts = _Drafts()
    read = doubt.readings(clauses)
    for clause, run, category in resolved:
        if run.polarity is None:
            continue
        if category is None or category is Category.SUBJECT or _personal(run):
            ignored_phrases.append(run.text)
            continue
        opinion = True
        head = limit(run.text)
        if head in CATEGORY_HEADS and not run.merged_from_predicate:
            # "I'd want more colour": the image's colours are what is lacking, not the wish
            quantity = local_marker(clause.tokens, run.start) is not None
            tags = [] if quantity else image_tags(image, CATEGORY_HEADS[head])
            if not tags:
                notes.append(f"'{head}' is vague and the image gives no {head} to name")
                continue
            from_image = True
            for tag in tags[:2]:
                drafts.add(
                    AttributeDraft(
                        text=tag.text,
                        category=tag.category,
                        polarity=run.polarity,
                        strength=min(run.strength, FROM_IMAGE_MAX_STRENGTH),
                        evidence=[clause.text, f"image: {tag.text}"],
                    ),
                    read[id(run)],
                )
            continue
        own_attributes += 1
        drafts.add(
            AttributeDraft(
                text=head,
                category=category,
                polarity=run.polarity,
                strength=run.strength,
                evidence=[clause.text],
            ),
            read[id(run)],
        )
    for key in sorted(drafts.conflicts):
        drafts.by_text.pop(key, None)
        notes.append(f"'{key}' was both liked and disliked; left out")
    attributes, unsure = drafts.split(table)
    return Extraction(
        attributes=attributes,
        unsure=unsure,
        overall=_overall(verdicts, attributes),
        vague=opinion and (from_image or own_attributes == 0),
        no_opinion=not opinion and not attributes and not unsure,
        ignored=ignored_phrases,
        notes=notes,
        extractor="offline",
    )


def _categorised(
    clauses: Sequence[Clause], similar: Callable[..., list[Category | None]]
) -> list[tuple[Clause, Run, Category | None]]:
    """Every run with its category, in reading order (unknown phrases embedded in one batch)."""
    resolved: list[tuple[int, int, Clause, Run, Category | None]] = []
    pending: list[tuple[int, Clause, Run]] = []
    for number, clause in enumerate(clauses):
        for run in clause.runs:
            if run.polarity is None:
                continue  # no verdict: never stored, so not worth embedding
            category = curated_category(run)
            if category in {None, Category.SUBJECT} and run.predicate and not run.negated_predicate:
                # "the sky is plain": a subject with a visual quality is a visual feature
                category = curated_category(Run(run.predicate, 0, 0)) or category
            if category is None or (category is Category.SUBJECT and _described(run)):
                pending.append((number, clause, run))
            else:
                resolved.append((number, run.start, clause, run, category))
    unknown = [limit(run.text) for _, _, run in pending]
    categories = similar(unknown)
    # "the stiff boats", "huge billowing clouds": how subject matter is drawn is a feature,
    # in the category of the words that describe it
    described = [
        i for i, c in enumerate(categories) if c is Category.SUBJECT and _described(pending[i][2])
    ]
    if described:
        words = [" ".join(t.text for t in pending[i][2].words[:-1]) for i in described]
        for i, category in zip(described, similar(words, predicates=True), strict=True):
            # "clumsy hands": a judged way of drawing it is a detail of the picture
            judged = pending[i][2].source in _OWN_READINGS | {"guess"}
            categories[i] = category or (Category.DETAIL if judged else Category.SUBJECT)
    # "the sun is too small": the subject is not visual, its quality may be
    retry = [
        i
        for i, c in enumerate(categories)
        if c in {None, Category.SUBJECT} and pending[i][2].predicate
    ]
    if retry:
        predicates = [" ".join(t.text for t in pending[i][2].predicate) for i in retry]
        for i, category in zip(retry, similar(predicates, predicates=True), strict=True):
            categories[i] = category
    named = [i for i, c in enumerate(categories) if c is None and _named(pending[i][2])]
    if named:
        phrases = [limit(pending[i][2].text) for i in named]
        for i, category in zip(named, similar(phrases, named=True), strict=True):
            categories[i] = category
    for (number, clause, run), category in zip(pending, categories, strict=True):
        resolved.append((number, run.start, clause, run, category))
    resolved.sort(key=lambda item: (item[0], item[1]))
    return [(clause, run, category) for _, _, clause, run, category in resolved]


def _described(run: Run) -> bool:
    """Subject matter with describing words of its own before it ("stiff boats")."""
    return (
        not run.predicate
        and len(run.words) > 1
        and all(t.category is not Category.SUBJECT for t in run.words[:-1])
    )


def _personal(run: Run) -> bool:
    """ "my cousin's wedding photos", "the dad": the person's life, not the image."""
    return any(t.text.removesuffix("'s") in lexicon.PEOPLE for t in run.words)


_OWN_READINGS = frozenset({"1", "2", "3", "4", "5", "6", "7", "want", "sarcasm"})


def _named(run: Run) -> bool:
    """A phrase of several words that its own clause judges ("the french knots are lovely",
    "I love the faceted water"): a feature the person names, even with words the vocabulary
    lacks. One word, or a verdict borrowed from another clause, is not enough to keep it."""
    return len(run.words) > 1 and run.source in _OWN_READINGS


def _overall(verdicts: list[Polarity], attributes: list[AttributeDraft]) -> Polarity | None:
    if verdicts:
        return verdicts[0]
    likes = sum(1 for a in attributes if a.polarity is LIKE)
    dislikes = len(attributes) - likes
    if likes > dislikes:
        return LIKE
    if dislikes > likes:
        return DISLIKE
    return None
