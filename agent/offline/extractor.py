"""The offline extractor: liked and disliked visual attributes from a comment, without an LLM.

It reads a comment in stages, each in its own module and testable alone:

1. ``segment``: refuse what it cannot read (another language gets a note, no guesses); split
   into sentences (pySBD) and clauses; drop sentences addressed to the system.
2. ``tokens``: label words (opinion cues, curated visual terms, stopwords).
3. ``pairing``: candidate phrases, joined into names ("teal and gold palette") and paired with
   their predicates ("the light feels gentle" → "gentle light").
4. ``polarity``: a polarity and a strength per phrase, within an explicit scope (comparison,
   clause, contrast, sentence; never carried into another sentence), from what a clause's words
   say (``verdict``), where a preference splits (``comparison``), and a few explicit links
   across clauses and sentences (``across``: similes, "which I like", someone else's opinion).
5. ``doubt``: how sure each phrase's reading is (calibrated on the tuning sets); below the
   threshold it is *unsure*: asked about, never stored as a guess.
6. ``category`` and ``build``: the visual category of each phrase, vague phrases named from the
   image or turned into a follow-up, the ``Extraction``.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from agent.evaluation import overlap
from agent.extraction import Extraction, ImageContext, ImageTag, clean_comment
from agent.offline import build, doubt, pairing, polarity, segment, verdict
from agent.offline.category import SimilarCategories, curated_category, embed_once
from agent.offline.doubt import Calibration
from agent.offline.segment import Clause
from agent.offline.tokens import Labeller
from agent.offline.valence import ValenceReader
from preference_store.embeddings import TextEmbedder
from preference_store.models import Category, Polarity

NOT_ENGLISH = "the offline extractor reads English only; please rephrase in English"


class OfflineExtractor:
    """Rule-based extraction with a curated vocabulary and MiniLM for words outside it.

    ``embedder`` is the process's shared text embedder (the store's); without one, phrases
    outside the vocabulary are left out instead of categorised by similarity, and predicates
    outside the lexicon carry no verdict.
    """

    def __init__(
        self,
        embedder: TextEmbedder | None = None,
        *,
        min_similarity: float = 0.5,
        calibration: Calibration | None = None,
    ):
        self._embedder = embedder
        self._calibration = calibration or doubt.calibration()
        self._labeller = Labeller()
        self._similar = SimilarCategories(embedder, self._labeller.vocab, min_similarity)
        self._valence = ValenceReader(embedder)

    def warm_up(self) -> None:
        """Embed the curated terms and predicate examples once (else at first need)."""
        self._similar.warm_up()
        self._valence.warm_up()

    def extract(self, comment: str, image: ImageContext | None = None) -> Extraction:
        text = clean_comment(comment)
        if segment.looks_foreign(text.lower()):
            return Extraction(no_opinion=True, notes=[NOT_ENGLISH])
        clauses, ignored, vectors = self._read(text)
        return build.build(
            clauses,
            ignored,
            image,
            functools.partial(self._similar, known=vectors),
            self._image_tags,
            self._calibration,
        )

    def clause_polarity(self, comment: str, feature: str) -> Polarity | None:
        """The polarity the comment's own words give ``feature``, or None when they give none.

        The phrase of the comment closest to ``feature`` (token overlap ≥ 0.5) answers; when no
        phrase matches, the verdict of the clause that contains the feature's words does.
        """
        try:
            text = clean_comment(comment)
        except ValueError:
            return None
        clauses, _, _ = self._read(text)
        best: tuple[float, Polarity | None] = (0.0, None)
        for clause in clauses:
            for run in clause.runs:
                score = overlap(run.text, feature)
                if score >= 0.5 and score > best[0]:
                    best = (score, run.polarity)
        if best[0]:
            return best[1]
        wanted = set(re.findall(r"[a-z0-9]+", feature.lower()))
        for clause in clauses:
            if wanted and wanted <= set(re.findall(r"[a-z0-9]+", clause.text.lower())):
                return verdict.clause_verdict(clause.tokens)
        return None

    def tags_from_description(self, description: str) -> list[ImageTag]:
        """Visual features named in a free-text image description ("teal and gold palette")."""
        tags: list[ImageTag] = []
        for sentence in re.split(r"[.,;:!?\n]+", description.lower()):
            tokens = self._labeller.label(sentence)
            previous: pairing.Run | None = None
            for run in pairing.find_runs(tokens, join_predicates=False):
                category = curated_category(run)
                if category is None or category is Category.SUBJECT:
                    previous = None
                    continue
                between = [t.text for t in tokens[previous.end : run.start]] if previous else []
                if (
                    tags
                    and previous is not None
                    and tags[-1].category is category
                    and between == ["and"]
                ):
                    # "teal and gold" is one feature of the image, not two
                    tags[-1] = ImageTag(
                        text=build.limit(f"{tags[-1].text} and {run.text}"), category=category
                    )
                else:
                    tags.append(ImageTag(text=build.limit(run.text), category=category))
                previous = run
        return tags

    def _read(self, text: str) -> tuple[list[Clause], list[str], dict[str, np.ndarray]]:
        """Stages 1-4: clauses with their phrases, each with a polarity and a strength, and the
        MiniLM vectors of every phrase a later stage may need (one batch per comment)."""
        clauses, ignored = segment.clauses(text, self._labeller)
        for clause in clauses:
            clause.runs = pairing.find_runs(clause.tokens)
        # Polarity first without MiniLM; then, if it had questions or some phrase needs a
        # category by similarity, one batch of vectors and a second (cheap) pass.
        questions: list[str] = []
        polarity.assign(clauses, self._valence, questions)
        vectors: dict[str, np.ndarray] = {}
        if self._embedder is None:
            return clauses, ignored, vectors
        texts = list(questions)
        for clause in clauses:
            for run in clause.runs:
                if run.polarity is not None and curated_category(run) in {None, Category.SUBJECT}:
                    texts.append(build.limit(run.text))
                    if run.predicate:
                        texts.append(" ".join(t.text for t in run.predicate))
        if texts:
            vectors = embed_once(self._embedder, texts)
        if questions:
            self._valence.answer(questions, vectors)
            polarity.assign(clauses, self._valence)
        return clauses, ignored, vectors

    def _image_tags(self, image: ImageContext | None, category: Category) -> list[ImageTag]:
        if image is None:
            return []
        tags = image.tags_in(category)
        if not tags and image.description:
            tags = [
                t for t in self.tags_from_description(image.description) if t.category is category
            ]
        return tags
