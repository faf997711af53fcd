"""Readings across clauses and sentences, after each phrase has its clause's verdict.

Each is an explicit link, and there are no others:

* a sentence that is only a verdict ("Yes please.") answers for the sentence before; a bare
  "Not." or a sarcastic remark takes back the praise before; "X too." repeats a verdict;
* "..., which I actually like" judges the clause before it; "..., I think" hedges it;
* what a feature is compared to judges it ("looks like clip art", ", like blue plastic");
* someone else's opinion ("my friend says ...", "she's into ...") is nobody's verdict here;
* a verdict borrowed from a neighbouring clause that the phrase's own words contradict is
  dropped: leaving a feature out costs less than storing it with the wrong polarity.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import groupby, pairwise

from agent import lexicon
from agent.offline.segment import Clause
from agent.offline.tokens import (
    FORWARD,
    HEDGE,
    POS,
    SARCASM,
    STOP,
)
from agent.offline.valence import ValenceReader
from agent.offline.verdict import (
    DISLIKE,
    LIKE,
    clause_strength,
    clause_verdict,
    elliptical_negation,
    hedged,
)

_BARE_VERDICT_WORDS = 4
_SIMILE_OBJECT = re.compile(
    r"(?:^|\b(?:looks?|looked|feels?|felt|seems?|seemed|is|are|was|were|almost|just)\s+)"
    r"like\s+(?:a |an |the |some |it |its |it's |they )?(?P<object>[a-z][a-z' -]*)"
)
_REFERRING = frozenset({"it", "it's", "this", "that", "they", "everything", "which"})
_OPEN_TO_DOUBT = frozenset({"6", "8", "guess", "fallback", "later", "clause"})
_BORROWED = frozenset({"fallback", "later"})


def hedged_afterwards(clauses: Sequence[Clause]) -> None:
    """ "The glow in her hair is pretty, I think.": a hedge on its own hedges what came before."""
    for before, clause in pairwise(clauses):
        kinds = {t.kind for t in clause.tokens}
        if before.sentence == clause.sentence and HEDGE in kinds and kinds <= {HEDGE, STOP}:
            for run in before.runs:
                run.strength = hedged(run.strength)


def reported_opinions(clauses: Sequence[Clause]) -> None:
    """ "My friend says it's too depressing": someone else's opinion is not the person's."""
    for clause in clauses:
        texts = [t.text.removesuffix("'s") for t in clause.tokens]
        reported = any(
            word in lexicon.PEOPLE and lexicon.OPINION_VERBS & set(texts[index + 1 : index + 3])
            for index, word in enumerate(texts)
        ) or (
            # "she's really into weird art": he or she is a person, never a feature
            bool(texts)
            and texts[0] in {"she", "he"}
            and any(t.kind in FORWARD for t in clause.tokens[:4])
        )
        if reported:
            for run in clause.runs:
                run.polarity, run.source = None, ""


def relative_verdicts(clauses: Sequence[Clause]) -> None:
    """ "The stitches are a bit uneven, which I actually kind of like": a relative clause with a
    verdict and no feature of its own judges the clause before it, over that clause's own
    describing words."""
    for before, clause in pairwise(clauses):
        if clause.runs or not clause.tokens or clause.tokens[0].text != "which":
            continue
        verdict = clause_verdict(clause.tokens)
        if verdict is None:
            continue
        for run in before.runs:
            run.polarity = verdict
            run.source = "which"
            run.strength = clause_strength(clause.tokens)


def simile_verdicts(
    clauses: Sequence[Clause], valence: ValenceReader, questions: list[str] | None
) -> None:
    """ "The shapes are simple, it looks like clip art"; "the loch looks solid, like blue
    plastic": what a feature is compared to judges it. A phrase with no verdict of its own takes
    the simile's; one whose verdict the simile contradicts (read from a describing word, or
    borrowed) is left out."""
    for number, clause in enumerate(clauses):
        match = _SIMILE_OBJECT.search(clause.text.lower())
        if match is None or (match.start() == 0 and not clause.simile):
            continue
        words = match.group("object").split()[:4]
        said = ValenceReader.lexical(words) or valence.asked(words, questions)
        if said is None:
            continue
        judged = clause.runs
        same_sentence = number > 0 and clauses[number - 1].sentence == clause.sentence
        refers_back = not clause.runs and clause.text.lower().split()[0] in _REFERRING
        if same_sentence and (clause.simile or refers_back):
            # ", like blue plastic"; "the shapes are simple, it looks like clip art"
            judged = clauses[number - 1].runs
        for run in judged:
            if run.polarity is None and not run.undecided:
                run.polarity, run.source = said, "simile"
            elif run.polarity is not said and run.source in _OPEN_TO_DOUBT:
                run.polarity, run.source = None, ""


def doubt_borrowed(
    clauses: Sequence[Clause], valence: ValenceReader, questions: list[str] | None
) -> None:
    """A verdict borrowed from elsewhere in the sentence that the phrase's own words contradict
    ("the sky isn't dark enough, it comes out a washed out grey": "washed out" against the wish
    before it) is no verdict: leaving the phrase out costs a feature, storing it wrong steers
    generation toward what the person dislikes."""
    for clause in clauses:
        for run in clause.runs:
            if run.polarity is None or run.source not in _BORROWED:
                continue
            own = ValenceReader.lexical([t.text for t in run.words])
            if own is None and len(run.words) > 1:
                own = valence.asked([t.text for t in run.words[:-1]], questions)
            if own is not None and own is not run.polarity:
                run.polarity = None
                run.source = ""


def mock_praise(clauses: Sequence[Clause]) -> bool:
    """ "Great, another blurry background.": praise on its own, then "another"."""
    return (
        len(clauses) > 1
        and [t.kind for t in clauses[0].tokens if t.kind != STOP] == [POS]
        and bool(clauses[1].tokens)
        and clauses[1].tokens[0].text == "another"
    )


def verdict_sentences(clauses: Sequence[Clause]) -> None:
    """Two explicit links between sentences, and no others.

    "Stark shadows, deep blacks. Yes please.": a bare verdict speaks for the sentence before, and
    a bare "Not." or a sarcastic remark ("Exactly what this needed.") takes back the praise
    before it;
    "The colours are nice. The light too.": "too"/"as well" repeats the verdict before.
    """
    sentences = [list(group) for _, group in groupby(clauses, key=lambda c: c.sentence)]
    for number, (before, after) in enumerate(pairwise(sentences)):
        _repeated_verdict(before, after)
        if len(after) == 1 and elliptical_negation(after[0].tokens):
            # "The moody atmosphere works for me; the harsh shadows don't."
            earlier = [r.polarity for c in before for r in c.runs if r.polarity is not None]
            for run in after[0].runs:
                if run.polarity is None and earlier:
                    run.polarity = earlier[-1].opposite
                    run.source = "elliptic" if run.polarity is not None else ""
        sarcastic = any(t.kind == SARCASM for c in after for t in c.tokens)
        if any(t.kind == SARCASM for c in before for t in c.tokens) and _repeats(after):
            # "Ah yes, tiny heads, truly the art style of our time. Love the plants too."
            for run in (r for c in after for r in c.runs):
                if run.polarity is LIKE:
                    run.polarity, run.source = DISLIKE, "sarcasm"
        if [t.text for c in after for t in c.tokens] == ["not"] or (
            sarcastic and not any(c.runs for c in after)
        ):
            # "Love how the horizon is tilted. Not.": the praise before was sarcastic, and so was
            # a short exclamation in between ("Love how it's all glossy. So realistic. Said no
            # one.")
            taken_back = [before]
            while _short(taken_back[-1]) and number - len(taken_back) + 1 > 0:
                taken_back.append(sentences[number - len(taken_back)])
            for run in (r for sentence in taken_back for c in sentence for r in c.runs):
                run.polarity = DISLIKE
                run.source = "not" if run.polarity is not None else ""
            continue
        if any(c.runs for c in after) or sum(len(c.tokens) for c in after) > _BARE_VERDICT_WORDS:
            continue  # "Yes please." answers; "It reminds me of my gran's kitchen, love it" not
        verdict = next((v for c in after if (v := clause_verdict(c.tokens)) is not None), None)
        runs = [r for c in before for r in c.runs]
        if verdict is None or not runs or any(r.polarity and not r.guessed for r in runs):
            continue
        if any(clause_verdict(c.tokens) is not None for c in before):
            continue
        for run in runs:
            run.polarity = verdict
            run.source = "bare-verdict" if run.polarity is not None else ""


def _short(clauses: list[Clause]) -> bool:
    return sum(len(c.tokens) for c in clauses) <= _BARE_VERDICT_WORDS


def _repeats(clauses: list[Clause]) -> bool:
    """Whether a sentence says "too"/"also" of its first feature ("Love the plants too")."""
    first = clauses[0].tokens
    return any(t.text in {"too", "also", "as well"} for t in first)


def _repeated_verdict(before: list[Clause], after: list[Clause]) -> None:
    last = after[-1].tokens
    if not last or last[-1].text not in {"too", "also", "as well"}:
        return
    runs = [r for c in after for r in c.runs]
    if any(r.polarity is not None for r in runs):
        return
    earlier = [r.polarity for c in before for r in c.runs if r.polarity is not None]
    verdict = earlier[-1] if earlier else None
    for run in runs:
        run.polarity = verdict
        run.source = "too" if run.polarity is not None else ""
