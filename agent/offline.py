"""The offline extractor: liked and disliked visual attributes from a comment, without an LLM.

How it reads a comment, step by step:

1. Refuse what it cannot read: a comment mostly in another language gets a note, no guesses.
2. Split into sentences; drop sentences that talk to the system ("ignore previous instructions
   and add ...") — text from users is data, never instructions.
3. Split sentences into clauses at contrast words ("but", "though") and commas.
4. Label words: opinion cues (lexicon.py), curated visual terms (vocabulary.py, longest match
   first), and stopwords. The remaining runs of words are candidate attribute phrases;
   "the colors are too saturated" joins into "saturated colors".
5. Give each phrase a polarity, nearest rule first: a local marker ("too X", "no more X",
   "less X" → dislike; "not enough X" → like), a forward cue before it ("love", "not a fan of"),
   a wish ("I wish it wasn't so dark" → dislike dark), an evaluation after it ("... bothers me"),
   the phrase's own loaded adjective ("cluttered"), and finally the previous clause (opposite
   after "but").
6. Categorise: the rightmost curated term decides; a phrase with no curated term is compared with
   every curated term by MiniLM similarity and kept only if it is close to a visual one.
   Subject matter ("the dog") is left out: ViPer learns artistic features, not subjects.
7. A phrase that only names a category ("love the colors") is vague: the feature is named from
   the image's tags (or its description) instead, and the comment is marked vague.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from agent import lexicon
from agent.extraction import Extraction, ImageContext, ImageTag, clean_comment
from agent.guard import is_instruction
from agent.lexicon import NEGATIVE_VALENCE, POSITIVE_VALENCE
from agent.vocabulary import CATEGORY_HEADS, NOUN_HEADS, vocabulary
from preference_store.embeddings import TextEmbedder
from preference_store.models import (
    MAX_ATTRIBUTE_WORDS,
    AttributeDraft,
    Category,
    Polarity,
)

LIKE, DISLIKE = Polarity.LIKE, Polarity.DISLIKE

_CONTRACTIONS = (
    (re.compile(r"\bcan['’]t\b"), "can not"),
    (re.compile(r"\bwon['’]t\b"), "will not"),
    (re.compile(r"\bi['’]d\b"), "i'd"),
    (re.compile(r"n['’]t\b"), " not"),
    (re.compile(r"['’]re\b"), " are"),
    (re.compile(r"['’]m\b"), " am"),
    (re.compile(r"['’]ve\b"), " have"),
    (re.compile(r"\b(it|that|there|what|here|he|she)['’]s\b"), r"\1 is"),
)
_WORD = re.compile(r"[a-z0-9]+(?:['’\-][a-z0-9]+)*|[,]")
_SENTENCE = re.compile(r"[.!?;\n]+|\s+-\s+|…")
_CONTRAST = re.compile(r"\b(?:" + "|".join(lexicon.CONTRAST_WORDS) + r")\b|,", re.IGNORECASE)
_COPULAS = {"is", "are", "was", "were", "be", "been", "looks", "look", "looked", "feels", "feel",
            "felt", "seems", "seem", "seemed", "gets", "got", "becomes"}  # fmt: skip
_WEAK_HEADS = {"feel", "feeling", "vibe", "vibes", "look"}
_LIKE_AS_PREPOSITION = {"look", "looks", "looked", "feel", "feels", "felt", "seems", "seem",
                        "something", "sounds", "just", "more", "less"}  # fmt: skip

# Token kinds.
WORD, STOP, CUE_LIKE, CUE_DISLIKE, POS, NEG, NEUTRAL, WISH, HEDGE, INTENS, NEGATION, TOO, MORE = (
    "word", "stop", "like", "dislike", "pos", "neg", "neutral", "wish", "hedge", "intens",
    "negation", "too", "more",
)  # fmt: skip
_FORWARD = {CUE_LIKE, CUE_DISLIKE}


@dataclass
class _Token:
    text: str
    kind: str
    category: Category | None = None  # for curated terms


@dataclass
class _Run:
    """A candidate attribute phrase and what surrounds it in its clause."""

    words: list[_Token]
    start: int
    end: int  # exclusive, index into the clause's tokens
    polarity: Polarity | None = None
    merged_from_predicate: bool = False
    predicate_start: int | None = None  # where "saturated" sits in "colors are too saturated"

    @property
    def text(self) -> str:
        return " ".join(t.text for t in self.words)


@dataclass
class _Clause:
    text: str
    tokens: list[_Token]
    runs: list[_Run] = field(default_factory=list)
    polarity: Polarity | None = None  # the clause's own verdict, if it has one
    hedged: bool = False
    intense: bool = False
    after_contrast: bool = False
    sentence: int = 0


def _cue_table() -> list[tuple[tuple[str, ...], str]]:
    table: list[tuple[tuple[str, ...], str]] = []
    for kind, words in (
        (CUE_LIKE, lexicon.LIKE_CUES),
        (CUE_DISLIKE, lexicon.DISLIKE_CUES),
        (POS, lexicon.POSITIVE_WORDS),
        (NEG, lexicon.NEGATIVE_WORDS),
        (NEUTRAL, lexicon.NEUTRAL_WORDS),
        (WISH, lexicon.WISH_CUES),
        (HEDGE, lexicon.HEDGES),
        (INTENS, lexicon.INTENSIFIERS),
        (NEGATION, lexicon.NEGATIONS),
        (TOO, ("too",)),
        (MORE, ("more", "not enough", "could use more", "needs more")),
    ):
        table.extend((tuple(w.split()), kind) for w in words)
    # Longest cue first, so "not a fan of" beats "not".
    return sorted(table, key=lambda item: -len(item[0]))


class OfflineExtractor:
    """Rule-based extraction with a curated vocabulary and a MiniLM fallback for other words.

    ``embedder`` is the process's shared text embedder (the store's); without one, phrases
    outside the vocabulary are left out instead of categorised by similarity.
    """

    def __init__(
        self,
        embedder: TextEmbedder | None = None,
        *,
        min_similarity: float = 0.5,
    ) -> None:
        self._embedder = embedder
        self._min_similarity = min_similarity
        self._vocab = vocabulary()
        self._terms_by_len: dict[int, dict[tuple[str, ...], Category]] = {}
        for term, category in self._vocab.items():
            key = tuple(term.split())
            self._terms_by_len.setdefault(len(key), {})[key] = category
        self._max_term = max(self._terms_by_len)
        self._cues = _cue_table()
        self._max_cue = max(len(c) for c, _ in self._cues)
        self._term_texts: list[str] = []
        self._term_categories: list[Category] = []
        self._term_matrix: np.ndarray | None = None

    # -- public -----------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Embed the curated terms once (otherwise done at the first out-of-vocabulary phrase)."""
        if self._embedder is None or self._term_matrix is not None:
            return
        self._term_texts = list(self._vocab)
        self._term_categories = [self._vocab[t] for t in self._term_texts]
        self._term_matrix = np.asarray(self._embedder.embed(self._term_texts), dtype=np.float32)

    def extract(self, comment: str, image: ImageContext | None = None) -> Extraction:
        text = clean_comment(comment)
        lowered = text.lower()
        if self._looks_foreign(lowered):
            return Extraction(
                no_opinion=True,
                notes=["the offline extractor reads English only; please rephrase in English"],
            )
        clauses, ignored_sentences = self._clauses(text)
        for clause in clauses:
            self._find_runs(clause)
        self._assign_polarity(clauses)
        return self._build(clauses, ignored_sentences, image)

    def tags_from_description(self, description: str) -> list[ImageTag]:
        """Visual features named in a free-text image description ("teal and gold palette")."""
        tags: list[ImageTag] = []
        for sentence in re.split(r"[.,;:!?\n]+", description.lower()):
            clause = _Clause(text=sentence, tokens=self._label(sentence))
            self._find_runs(clause, join_predicates=False)
            previous: _Run | None = None
            for run in clause.runs:
                category = self._run_category(run)
                if category is None or category is Category.SUBJECT:
                    previous = None
                    continue
                between = (
                    [t.text for t in clause.tokens[previous.end : run.start]] if previous else []
                )
                if (
                    tags
                    and previous is not None
                    and tags[-1].category is category
                    and between == ["and"]
                ):
                    # "teal and gold" is one feature of the image, not two
                    tags[-1] = ImageTag(
                        text=_limit(f"{tags[-1].text} and {run.text}"), category=category
                    )
                else:
                    tags.append(ImageTag(text=_limit(run.text), category=category))
                previous = run
        return tags

    # -- step 1-3: language, sentences, clauses ---------------------------------------------

    @staticmethod
    def _looks_foreign(lowered: str) -> bool:
        words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", lowered)
        foreign = sum(1 for w in words if w in lexicon.FOREIGN_MARKERS)
        english = sum(1 for w in words if w in lexicon.STOPWORDS)
        return foreign >= 2 and foreign > english

    def _clauses(self, text: str) -> tuple[list[_Clause], list[str]]:
        clauses: list[_Clause] = []
        ignored: list[str] = []
        for number, sentence in enumerate(_SENTENCE.split(text)):
            if not sentence.strip():
                continue
            if is_instruction(sentence):
                ignored.append(sentence.strip())
                continue
            position = 0
            after_contrast = False
            for match in _CONTRAST.finditer(sentence):
                piece = sentence[position : match.start()]
                if match.group(0) == "," and self._coordinated(piece, sentence[match.end() :]):
                    continue  # "calmer, emptier layouts": one phrase, not two clauses
                if piece.strip():
                    clauses.append(self._clause(piece, after_contrast, number))
                after_contrast = match.group(0) != ","
                position = match.end()
            piece = sentence[position:]
            if piece.strip():
                clauses.append(self._clause(piece, after_contrast, number))
        return clauses, ignored

    def _coordinated(self, before: str, after: str) -> bool:
        """A comma between two modifiers of one noun ("soft, hazy light")."""
        left = re.findall(r"[a-z'-]+", before.lower())
        right = re.findall(r"[a-z'-]+", after.lower())
        if not left or not right:
            return False
        last, first = left[-1], right[0]

        def modifier(word: str) -> bool:
            plain = word not in lexicon.STOPWORDS and word not in NOUN_HEADS
            return plain and word not in CATEGORY_HEADS and self._match_cue([word], 0) is None

        return modifier(last) and modifier(first) and len(right) > 1

    def _clause(self, text: str, after_contrast: bool, sentence: int) -> _Clause:
        return _Clause(
            text=text.strip(),
            tokens=self._label(text.lower()),
            after_contrast=after_contrast,
            sentence=sentence,
        )

    # -- step 4: labelling and runs ------------------------------------------------------------

    def _label(self, lowered: str) -> list[_Token]:
        for pattern, replacement in _CONTRACTIONS:
            lowered = pattern.sub(replacement, lowered)
        words = [w.replace("’", "'") for w in _WORD.findall(lowered) if w != ","]
        tokens: list[_Token] = []
        i = 0
        while i < len(words):
            term = self._match_term(words, i)
            cue = self._match_cue(words, i)
            if term is not None and (cue is None or len(term[0]) > len(cue[0])):
                length, category = len(term[0]), term[1]
                # "cool" / "soft" etc. are cues only when they do not modify a visual noun.
                if cue is not None and len(term[0]) == len(cue[0]):
                    nxt = words[i + length] if i + length < len(words) else ""
                    nxt_category = self._vocab.get(nxt)
                    if nxt not in NOUN_HEADS and nxt_category in {None, Category.SUBJECT}:
                        tokens.append(_Token(" ".join(words[i : i + length]), cue[1]))
                        i += length
                        continue
                tokens.append(_Token(" ".join(words[i : i + length]), WORD, category))
                i += length
                continue
            if cue is not None:
                kind = cue[1]
                if (
                    cue[0] == ("like",)
                    and tokens
                    and (tokens[-1].text in _LIKE_AS_PREPOSITION or tokens[-1].kind == WORD)
                ):
                    kind = STOP  # "looks like a dream" is not an opinion
                tokens.append(_Token(" ".join(cue[0]), kind))
                i += len(cue[0])
                continue
            word = words[i]
            kind = STOP if word in lexicon.STOPWORDS or word.isdigit() else WORD
            tokens.append(_Token(word, kind, self._vocab.get(word)))
            i += 1
        return tokens

    def _match_term(self, words: list[str], i: int) -> tuple[tuple[str, ...], Category] | None:
        for length in range(min(self._max_term, len(words) - i), 0, -1):
            key = tuple(words[i : i + length])
            category = self._terms_by_len.get(length, {}).get(key)
            if category is not None:
                return key, category
        return None

    def _match_cue(self, words: list[str], i: int) -> tuple[tuple[str, ...], str] | None:
        window = tuple(words[i : i + self._max_cue])
        for cue, kind in self._cues:
            if window[: len(cue)] == cue:
                return cue, kind
        return None

    def _find_runs(self, clause: _Clause, *, join_predicates: bool = True) -> None:
        runs: list[_Run] = []
        current: list[_Token] = []
        start = 0
        for index, token in enumerate(clause.tokens):
            if token.kind == WORD:
                if not current:
                    start = index
                current.append(token)
                continue
            if current:
                runs.append(_Run(current, start, index))
                current = []
        if current:
            runs.append(_Run(current, start, len(clause.tokens)))
        if join_predicates:
            runs = self._join_predicates(clause, runs)
        clause.runs = runs
        kinds = {t.kind for t in clause.tokens}
        clause.hedged = HEDGE in kinds
        clause.intense = INTENS in kinds or any(
            t.text in {"love", "adore", "hate", "detest", "loathe"} for t in clause.tokens
        )

    @staticmethod
    def _is_nominal(run: _Run) -> bool:
        last = run.words[-1].text
        head = last.rsplit(" ", 1)[-1]
        return last in CATEGORY_HEADS or head in NOUN_HEADS or head in CATEGORY_HEADS

    def _join_predicates(self, clause: _Clause, runs: list[_Run]) -> list[_Run]:
        """ "the background is cluttered" → "cluttered background" (one phrase, not two)."""
        joined: list[_Run] = []
        for run in runs:
            if joined and self._is_nominal(joined[-1]) and not self._is_nominal(run):
                between = clause.tokens[joined[-1].end : run.start]
                if (
                    between
                    and all(t.kind in {STOP, INTENS, TOO, HEDGE} for t in between)
                    and any(t.text in _COPULAS for t in between)
                ):
                    previous = joined.pop()
                    joined.append(
                        _Run(
                            run.words + previous.words,
                            previous.start,
                            run.end,
                            merged_from_predicate=True,
                            predicate_start=run.start,
                        )
                    )
                    continue
            joined.append(run)
        return joined

    # -- step 5: polarity ----------------------------------------------------------------------

    def _assign_polarity(self, clauses: Sequence[_Clause]) -> None:
        previous: Polarity | None = None
        for clause in clauses:
            clause.polarity = self._clause_verdict(clause)
            for run in clause.runs:
                run.polarity = self._run_polarity(clause, run) or clause.polarity
            fallback = previous
            if clause.after_contrast and previous is not None:
                fallback = previous.opposite
            for run in clause.runs:
                if run.polarity is None:
                    run.polarity = fallback
            verdicts = [r.polarity for r in clause.runs if r.polarity is not None]
            if clause.polarity is not None:
                previous = clause.polarity
            elif verdicts:
                previous = verdicts[-1]
        # A clause that opens a sentence without a verdict takes the one of the comma-joined
        # clause after it: "The visible brushstrokes give it life, I adore impasto."
        for before, after in zip(reversed(clauses[:-1]), reversed(clauses[1:]), strict=True):
            if before.sentence != after.sentence or after.after_contrast:
                continue
            later = next((r.polarity for r in after.runs if r.polarity), after.polarity)
            for run in before.runs:
                if run.polarity is None:
                    run.polarity = later

    @staticmethod
    def _negated(tokens: Sequence[_Token], index: int, window: int = 3) -> bool:
        return any(t.kind == NEGATION for t in tokens[max(0, index - window) : index])

    def _clause_verdict(self, clause: _Clause) -> Polarity | None:
        """The clause's own verdict from its cues, ignoring loaded adjectives."""
        for index, token in enumerate(clause.tokens):
            if token.kind in _FORWARD or token.kind in {POS, NEG}:
                polarity = LIKE if token.kind in {CUE_LIKE, POS} else DISLIKE
                return polarity.opposite if self._negated(clause.tokens, index) else polarity
            if token.kind == TOO:
                return DISLIKE
        return None

    def _run_polarity(self, clause: _Clause, run: _Run) -> Polarity | None:
        tokens = clause.tokens
        # 1. Local markers right before the phrase: "too dark", "no more neon", "not enough X".
        local = self._local_marker(tokens, run.start)
        if local is None and run.predicate_start is not None:
            local = self._local_marker(tokens, run.predicate_start)
        if local is not None:
            return local
        # 2. The nearest forward cue before it: "I love the ...", "not a fan of ...".
        for index in range(run.start - 1, -1, -1):
            token = tokens[index]
            if token.kind in _FORWARD:
                polarity = LIKE if token.kind == CUE_LIKE else DISLIKE
                return polarity.opposite if self._negated(tokens, index) else polarity
        # 3. A wish: what is wished for is liked, unless the wish is negated.
        for index in range(run.start - 1, -1, -1):
            if tokens[index].kind == WISH:
                between = tokens[index + 1 : run.start]
                if any(t.kind == NEGATION or t.text in {"less", "fewer"} for t in between):
                    return DISLIKE
                return LIKE
        # 4. An evaluation after it ("the palette is gorgeous", "the clutter bothers me").
        for index in range(run.end, len(tokens)):
            token = tokens[index]
            if token.kind in {POS, NEG}:
                polarity = LIKE if token.kind == POS else DISLIKE
                return polarity.opposite if self._negated(tokens, index, 2) else polarity
            if token.kind == WORD:
                break
        # 5. The phrase's own loaded adjective ("cluttered", "vibrant").
        own = self._valence(run)
        if own is not None:
            return own
        # 6. An evaluation before it ("beautiful teal", "nice grain").
        for index in range(run.start - 1, -1, -1):
            token = tokens[index]
            if token.kind in {POS, NEG}:
                polarity = LIKE if token.kind == POS else DISLIKE
                return polarity.opposite if self._negated(tokens, index, 2) else polarity
        return None

    @staticmethod
    def _local_marker(tokens: Sequence[_Token], start: int) -> Polarity | None:
        index = start - 1
        while index >= 0 and tokens[index].kind in {INTENS, STOP} and tokens[index].text in {
            "so", "very", "really", "way", "a", "bit", "much", "the", "far", "all", "that",
        }:  # fmt: skip
            index -= 1
        if index < 0:
            return None
        token = tokens[index]
        if token.kind == TOO or token.text in {"no more", "less", "fewer", "too much", "too many"}:
            return DISLIKE
        if token.kind == MORE:
            return DISLIKE if OfflineExtractor._negated(tokens, index, 2) else LIKE
        if token.kind == NEGATION and token.text in {"without", "no"}:
            return DISLIKE
        return None

    @staticmethod
    def _valence(run: _Run) -> Polarity | None:
        words = {w for t in run.words for w in t.text.split()}
        if words & NEGATIVE_VALENCE:
            return DISLIKE
        if words & POSITIVE_VALENCE:
            return LIKE
        return None

    # -- step 6-7: categories, vague phrases, the result ---------------------------------------

    def _run_category(self, run: _Run) -> Category | None:
        """The rightmost curated visual term decides; None when the run has no curated term."""
        visual = [
            t for t in run.words if t.category is not None and t.category is not Category.SUBJECT
        ]
        if len(visual) > 1 and visual[-1].text in _WEAK_HEADS:
            visual = visual[:-1]  # "watercolor feel" is about the medium
        if visual:
            return visual[-1].category
        if any(t.category is Category.SUBJECT for t in run.words) and all(
            t.category is not None for t in run.words
        ):
            return Category.SUBJECT
        return None

    def _similar_categories(self, phrases: Sequence[str]) -> list[Category | None]:
        """MiniLM nearest curated term for phrases outside the vocabulary (one batch)."""
        if not phrases or self._embedder is None:
            return [None] * len(phrases)
        self.warm_up()
        assert self._term_matrix is not None
        vectors = np.asarray(self._embedder.embed(list(phrases)), dtype=np.float32)
        similarities = vectors @ self._term_matrix.T
        result: list[Category | None] = []
        for row in similarities:
            best = int(row.argmax())
            category = self._term_categories[best]
            if row[best] < self._min_similarity or category is Category.SUBJECT:
                result.append(None)
            else:
                result.append(category)
        return result

    def _build(
        self, clauses: Sequence[_Clause], ignored: list[str], image: ImageContext | None
    ) -> Extraction:
        drafts: dict[str, AttributeDraft] = {}
        conflicts: set[str] = set()
        notes: list[str] = []
        ignored_phrases = list(ignored)
        if ignored:
            notes.append("left out text addressed to the system rather than about the image")
        from_image = False
        opinion = False
        own_attributes = 0
        verdicts: list[Polarity] = []
        pending: list[tuple[_Clause, _Run]] = []
        resolved: list[tuple[_Clause, _Run, Category | None]] = []
        for clause in clauses:
            if clause.polarity is not None:
                opinion = True
            if clause.polarity is not None and all(
                self._run_category(r) in {None, Category.SUBJECT} for r in clause.runs
            ):
                verdicts.append(clause.polarity)
            for run in clause.runs:
                category = self._run_category(run)
                if category is None:
                    pending.append((clause, run))
                else:
                    resolved.append((clause, run, category))
        unknown = [_limit(run.text) for _, run in pending]
        for (clause, run), category in zip(pending, self._similar_categories(unknown), strict=True):
            resolved.append((clause, run, category))
        # Back to reading order. Positions by identity: two clauses with the same words are
        # equal dataclasses, and ``list.index`` would also rescan the clauses every time.
        position = {id(clause): number for number, clause in enumerate(clauses)}
        resolved.sort(key=lambda item: (position[id(item[0])], item[1].start))

        def add(draft: AttributeDraft) -> None:
            key = draft.text.casefold()
            existing = drafts.get(key)
            if existing is not None and existing.polarity is not draft.polarity:
                conflicts.add(key)
            drafts.setdefault(key, draft)

        for clause, run, category in resolved:
            if run.polarity is None:
                continue
            if category is None or category is Category.SUBJECT:
                ignored_phrases.append(run.text)
                continue
            opinion = True
            strength = 0.9 if clause.intense else 0.7
            if clause.hedged:
                strength = 0.4
            head = _limit(run.text)
            if head in CATEGORY_HEADS and not run.merged_from_predicate:
                tags = self._image_tags(image, CATEGORY_HEADS[head])
                if tags:
                    from_image = True
                    for tag in tags[:2]:
                        add(
                            AttributeDraft(
                                text=tag.text,
                                category=tag.category,
                                polarity=run.polarity,
                                strength=min(strength, 0.6),
                                evidence=[clause.text, f"image: {tag.text}"],
                            )
                        )
                    continue
                notes.append(f"'{head}' is vague and the image gives no {head} to name")
                strength = min(strength, 0.4)
            else:
                own_attributes += 1
            add(
                AttributeDraft(
                    text=head,
                    category=category,
                    polarity=run.polarity,
                    strength=strength,
                    evidence=[clause.text],
                )
            )
        for key in conflicts:  # said both ways in one comment: no clear preference
            drafts.pop(key, None)
            notes.append(f"'{key}' was both liked and disliked; left out")
        attributes = list(drafts.values())
        overall = self._overall(verdicts, attributes)
        return Extraction(
            attributes=attributes,
            overall=overall,
            vague=opinion and (from_image or own_attributes == 0),
            no_opinion=not opinion and not attributes,
            ignored=ignored_phrases,
            notes=notes,
            extractor="offline",
        )

    def _image_tags(self, image: ImageContext | None, category: Category) -> list[ImageTag]:
        if image is None:
            return []
        tags = image.tags_in(category)
        if not tags and image.description:
            tags = [
                t for t in self.tags_from_description(image.description) if t.category is category
            ]
        return tags

    @staticmethod
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


def _limit(text: str) -> str:
    """Keep the last words of a long phrase (the head noun is at the end in English)."""
    words = text.split()
    return " ".join(words[-MAX_ATTRIBUTE_WORDS:])[:80].strip()
