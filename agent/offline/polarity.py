"""Stage 4: a polarity and a strength for every phrase, decided inside an explicit scope.

Scopes, narrowest first:

1. comparison: "I'd take X over Y", "I'd rather have X than Y", "X beats Y" → the preferred side
   is liked, the other disliked;
2. the phrase's own markers: "too dark", "no more neon", "not enough contrast", "without X";
3. the clause: a cue before the phrase ("love the", "not a fan of"), a wish, an evaluation after
   it ("... is gorgeous", "isn't bad at all", "is okay"), its predicate ("the shadows seem rich",
   "the greens aren't boring", "not dark enough"), an evaluation before it ("lovely grain");
4. the sentence: a phrase with no verdict in its clause takes the previous clause's (the
   opposite after "but"/"though"), or the next one's when it opens the sentence; a sentence that
   is only a verdict ("Yes please.") answers for the verdict-less sentence just before it;
5. sarcasm ("just what every picture needs, more lens flare", an eye roll) turns the sentence's
   verdicts into dislikes.

Then a few readings across clauses: "..., which I actually like" judges the clause before; what
a feature is compared to judges it ("looks like clip art"); someone else's opinion ("my friend
says ...") is nobody's verdict; and a verdict borrowed from a neighbouring clause that the
phrase's own words contradict is dropped. Each run remembers which reading gave its polarity
(``Run.source``: the step of ``_run_polarity``, or the rule's name), because later stages trust
a phrase's own reading more than a borrowed one.

A verdict is never carried into another sentence otherwise, and a phrase still without one is
left out rather than guessed. Strength follows the words: "okay" (0.4) < "like" (0.7) <
"really like" (0.8) < "love"/"gorgeous" (0.9); a hedged verdict is weak (at most 0.5).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import groupby, pairwise

from agent import lexicon
from agent.offline.pairing import COPULAS, Run, wished
from agent.offline.segment import Clause
from agent.offline.tokens import (
    CUE_DISLIKE,
    CUE_LIKE,
    EVALUATIONS,
    FORWARD,
    HEDGE,
    INTENS,
    MORE,
    NEG,
    NEGATION,
    OKAY,
    POS,
    SARCASM,
    STOP,
    TOO,
    WISH,
    WORD,
    Token,
)
from agent.offline.valence import ValenceReader
from preference_store.models import Polarity

LIKE, DISLIKE = Polarity.LIKE, Polarity.DISLIKE
WEAK, MEDIUM, FIRM, STRONG = 0.4, 0.7, 0.8, 0.9
_PREFERENCE = frozenset({"take", "rather", "prefer", "prefers", "preferred", "beat", "beats",
                         "better", "over", "give me"})  # fmt: skip
_BETTER = frozenset({"better", "stronger", "nicer", "prettier", "lovelier", "more interesting",
                     "more striking", "more appealing", "preferable", "superior"})  # fmt: skip
_CHOOSING = frozenset({"take", "prefer", "give me", "me", "pick", "choose", "go for"})
_BARE_VERDICT_WORDS = 4
_EXPECTATION = frozenset({"think", "thought", "expect", "expected", "expecting", "imagine",
                          "imagined"})  # fmt: skip
_HABITUAL = frozenset({"normally", "usually", "typically", "generally", "often"})
_THAN = frozenset({"than", "than that"})
_RATHER = _PREFERENCE | {"i'd rather", "would rather", "rather"}
_WORSE = frozenset({"worse", "weaker", "uglier", "duller", "blander", "messier", "muddier",
                    "inferior"})  # fmt: skip

_SWAPPING = frozenset({"swap", "trade", "replace", "exchange", "switch"})
_SKIPPABLE = frozenset({"so", "very", "really", "way", "a", "bit", "much", "the", "far", "all",
                        "that", "little", "tad"})  # fmt: skip


def assign(
    clauses: Sequence[Clause], valence: ValenceReader, questions: list[str] | None = None
) -> None:
    """Set ``polarity`` and ``strength`` on every run of every clause.

    With ``questions``, describing words the valence reader has not voted on yet are collected
    there (and read as no verdict): the caller embeds them in one batch and assigns again.
    """
    for _, group in groupby(clauses, key=lambda c: c.sentence):
        _sentence(list(group), valence, questions)
    _verdict_sentences(clauses)


def clause_verdict(tokens: Sequence[Token]) -> Polarity | None:
    """The clause's own verdict from its cues (not from loaded adjectives)."""
    verdict: Polarity | None = None
    for index, token in enumerate(tokens):
        if token.kind in FORWARD or token.kind in EVALUATIONS:
            polarity = LIKE if token.kind in {CUE_LIKE, POS} else DISLIKE
            verdict = polarity.opposite if negated(tokens, index) else polarity
            break
        if token.kind == TOO:
            verdict = DISLIKE
            break
    if verdict is LIKE and any(t.kind == SARCASM for t in tokens):
        return DISLIKE
    return verdict


def negated(tokens: Sequence[Token], index: int, window: int = 3) -> bool:
    """A negation just before ``index``, or a clause opened by "nothing about/in ...".

    "I wasn't expecting to like X", "I didn't think I'd like X": the negation is of the
    expectation, not of the liking."""
    before = tokens[max(0, index - window) : index]
    if any(t.kind == NEGATION for t in before):
        expected = (
            index < len(tokens)
            and tokens[index].kind in FORWARD
            and any(t.text in _EXPECTATION for t in before)
            and any(t.text in {"did", "was", "were", "never"} for t in tokens[:index])
        )  # "I didn't think I'd like X" (past: surprise), not "I don't think I like X"
        return not expected
    if any(
        a.kind == NEGATION and b.text in {"think", "believe"} for a, b in pairwise(tokens[:index])
    ):
        return True  # "I don't think the grain works": the verdict under it is negated
    texts = [t.text for t in tokens[: min(index, 3)]]
    return any(a == "nothing" and b in {"about", "in", "of"} for a, b in pairwise(texts))


def _sentence(clauses: list[Clause], valence: ValenceReader, questions: list[str] | None) -> None:
    previous: Polarity | None = None
    verdicts: list[Polarity | None] = []
    guesses: dict[int, Polarity] = {}  # by id(run): read only from its own describing words
    for clause in clauses:
        verdict = clause_verdict(clause.tokens)
        verdicts.append(verdict)
        separator = _comparison(clause.tokens)
        for run in clause.runs:
            run.guessed = False
            run.source = ""
            said = _run_polarity(clause.tokens, run, separator, valence, questions)
            if said is not None and _guessed(clause.tokens, run, separator):
                guesses[id(run)] = said
                said = None
            # "the pretty pastel door feels a bit twee": the praise before the name may not be
            # the verdict of its unread predicate; a cue ("I love how ...") still speaks for it
            run.undecided = run.source == "conditional" or (
                said is None
                and bool(run.predicate)
                and any(t.kind in EVALUATIONS for t in clause.tokens[: run.start])
                and not any(t.kind in FORWARD for t in clause.tokens)
            )
            run.polarity = None if run.undecided else said or verdict
            if run.polarity is not None and said is None:
                run.source = "clause"
            run.strength = _strength(clause.tokens)
        fallback = previous.opposite if clause.after_contrast and previous else previous
        opens_not = bool(clause.tokens) and clause.tokens[0].text == "not"
        if previous and verdict is None and (_elliptical_negation(clause.tokens) or opens_not):
            fallback = previous.opposite  # "the light works, the shadows don't"; "X, not Y"
        for run in clause.runs:
            if run.polarity is None and not run.undecided:
                run.polarity = fallback
                run.source = "fallback" if run.polarity is not None else ""
        own = [r.polarity for r in clause.runs if r.polarity is not None]
        if any(r.source == "want" for r in clause.runs):
            # "the colours aren't saturated enough, the basil looks greyish": what is wanted is
            # liked, but the clause is a complaint, and so is what it goes on to say
            previous = DISLIKE
        elif separator is not None:
            previous = None  # "I'd swap X for Y, ...": both verdicts, none to carry on
        elif verdict is not None:
            previous = verdict
        elif own:
            previous = own[-1]
    # A clause opening the sentence without a verdict takes the next one's ("The visible
    # brushstrokes give it life, I adore impasto."); clauses with no phrase pass it on.
    # Before a contrast ("Strong dramatic lighting, but the background is too black") it takes
    # the opposite of the contrasting clause's verdict.
    later: Polarity | None = None
    for clause, verdict in zip(reversed(clauses), reversed(verdicts), strict=True):
        for run in clause.runs:
            if run.polarity is None and not run.undecided:
                run.polarity = later.opposite if clause.exception and later else later
                run.source = "later" if run.polarity is not None else ""
        found = verdict or next((r.polarity for r in clause.runs if r.polarity), None)
        if verdict is None and any(r.source in {"1", "4"} for r in clause.runs):
            found = None  # "the greens are a touch sickly, I'd rather the warmer yellows"
        if clause.after_contrast and not clause.runs:
            # "X is a combo I wouldn't have picked, but it works": a verdict on "it" may be
            # about X itself, so X gets no verdict from it (left out rather than guessed)
            later = None
        elif clause.after_contrast:
            later = found.opposite if found is not None else None
        else:
            later = found or later
    # Last, the guesses: a later bare verdict ("Yes please.") may still overrule them.
    for clause in clauses:
        for run in clause.runs:
            if run.polarity is None and id(run) in guesses:
                run.polarity = guesses[id(run)]
                run.source = "guess" if run.polarity is not None else ""
                run.guessed = True
    # "I'm normally into film grain but this is too heavy": a habit contradicted in the same
    # sentence says nothing certain about this image's feature
    for number, clause in enumerate(clauses):
        habitual = any(t.text in _HABITUAL for t in clause.tokens)
        if habitual and any(c.after_contrast for c in clauses[number + 1 :]):
            for run in clause.runs:
                run.polarity = None
    _hedged_afterwards(clauses)
    _reported_opinions(clauses)
    _relative_verdicts(clauses)
    _simile_verdicts(clauses, valence, questions)
    _doubt_borrowed(clauses, valence)
    for clause in clauses:  # a doubted borrowing leaves the phrase its own words ("crisp")
        for run in clause.runs:
            if run.polarity is None and id(run) in guesses:
                run.polarity, run.source, run.guessed = guesses[id(run)], "guess", True
    if any(t.kind == SARCASM for c in clauses for t in c.tokens) or _mock_praise(clauses):
        for clause in clauses:
            for run in clause.runs:
                run.polarity = DISLIKE
                run.source = "sarcasm" if run.polarity is not None else ""


_SIMILE_OBJECT = re.compile(
    r"(?:^|\b(?:looks?|looked|feels?|felt|seems?|seemed|is|are|was|were|almost|just)\s+)"
    r"like\s+(?:a |an |the |some |it |its |it's |they )?(?P<object>[a-z][a-z' -]*)"
)
_REFERRING = frozenset({"it", "it's", "this", "that", "they", "everything", "which"})
_OPEN_TO_DOUBT = frozenset({"6", "8", "guess", "fallback", "later", "clause"})


def _simile_verdicts(
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


def _reported_opinions(clauses: Sequence[Clause]) -> None:
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


def _relative_verdicts(clauses: Sequence[Clause]) -> None:
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
            run.strength = _strength(clause.tokens)


_BORROWED = frozenset({"fallback", "later"})


def _doubt_borrowed(clauses: Sequence[Clause], valence: ValenceReader) -> None:
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
                own = valence.of_words([t.text for t in run.words[:-1]])
            if own is not None and own is not run.polarity:
                run.polarity = None
                run.source = ""


def _elliptical_negation(tokens: Sequence[Token]) -> bool:
    texts = [t.text for t in tokens[-2:]]
    return len(texts) == 2 and texts[1] == "not" and texts[0] in _AUXILIARIES


_AUXILIARIES = frozenset({"do", "does", "did", "is", "are", "was", "were", "can", "could"})


def _mock_praise(clauses: Sequence[Clause]) -> bool:
    """ "Great, another blurry background.": praise on its own, then "another"."""
    return (
        len(clauses) > 1
        and [t.kind for t in clauses[0].tokens if t.kind != STOP] == [POS]
        and bool(clauses[1].tokens)
        and clauses[1].tokens[0].text == "another"
    )


def _verdict_sentences(clauses: Sequence[Clause]) -> None:
    """Two explicit links between sentences, and no others.

    "Stark shadows, deep blacks. Yes please.": a bare verdict speaks for the sentence before, and
    a bare "Not." or a sarcastic remark ("Exactly what this needed.") takes back the praise
    before it;
    "The colours are nice. The light too.": "too"/"as well" repeats the verdict before.
    """
    sentences = [list(group) for _, group in groupby(clauses, key=lambda c: c.sentence)]
    for number, (before, after) in enumerate(pairwise(sentences)):
        _repeated_verdict(before, after)
        if len(after) == 1 and _elliptical_negation(after[0].tokens):
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


def _comparison(tokens: Sequence[Token]) -> tuple[int, Polarity] | None:
    """Where a clause that states a preference splits, and the side before it: "I'd take X over
    Y", "prefer X to Y", "X works better than Y" (X liked), "X is worse than Y" (X disliked)."""
    texts = [t.text for t in tokens]
    for index, text in enumerate(texts):
        if index == 0:
            continue
        before = set(texts[:index])
        if text in _THAN and texts[index - 1] in _WORSE:
            return index, DISLIKE
        if text in _THAN and texts[index - 1] == "more" and _judging(tokens[:index]):
            return index, LIKE  # "oil paint would suit this far more than the airbrush finish"
        if text in {"for", "with"} and before & _SWAPPING:
            return index, DISLIKE  # "I'd swap the sepia tone for plain black ink"
        if text in _THAN and (texts[index - 1] in _BETTER or before & _RATHER):
            return index, LIKE
        if text in {"over", "beat", "beats"} and before & _CHOOSING:
            return index, LIKE
        if text in {"beat", "beats", "trumps", "outshines"} and any(
            t.kind == WORD for t in tokens[:index]
        ):
            return index, LIKE
        if (
            text == "to"
            and before & {"prefer", "preferred", "prefers"}
            and _between_sides(tokens, index)
        ):
            return index, LIKE
    return None


def _judging(tokens: Sequence[Token]) -> bool:
    """Whether the words before "more than" judge ("love X more than", "X would suit it more")."""
    return any(t.kind in FORWARD or t.kind == POS or t.text in {"suit", "suits"} for t in tokens)


def _between_sides(tokens: Sequence[Token], index: int) -> bool:
    """ "prefer X to Y": a phrase on both sides of "to" (not "prefer to see")."""
    return (
        any(t.kind == WORD for t in tokens[:index])
        and any(t.kind == WORD for t in tokens[index + 1 : index + 4])
        and tokens[index + 1].kind == STOP
        if index + 1 < len(tokens)
        else False
    )


def _by(run: Run, source: str, polarity: Polarity | None) -> Polarity | None:
    """Note which reading gave ``run`` its polarity (see the module docstring), pass it on."""
    if polarity is not None:
        run.source = source
    return polarity


def _run_polarity(
    tokens: Sequence[Token],
    run: Run,
    separator: tuple[int, Polarity] | None,
    valence: ValenceReader,
    questions: list[str] | None = None,
) -> Polarity | None:
    # 1. Comparison: the preferred side is liked, the other disliked.
    if separator is not None:
        index, first = separator
        return _by(run, "1", first if run.start < index else first.opposite)
    # 1b. A pseudo-cleft: "What spoils it for me is the sweet little house" → the verdict
    #     before the copula is the phrase's, whatever its own words say.
    cleft = _cleft(tokens, run)
    if cleft is not None:
        return _by(run, "1", cleft)
    # 2. Markers right before the phrase or its predicate.
    local = local_marker(tokens, run.start)
    if local is None and run.predicate_start is not None:
        local = local_marker(tokens, run.predicate_start)
    if local is not None:
        return _by(run, "2", local)
    # 3. The nearest forward cue before it: "I love the ...", "not a fan of ...".
    for index in range(run.start - 1, -1, -1):
        token = tokens[index]
        if token.kind in FORWARD:
            polarity = LIKE if token.kind == CUE_LIKE else DISLIKE
            if polarity is LIKE and index > 0 and tokens[index - 1].text == "less":
                return _by(run, "3", DISLIKE)  # "I'm less into the tiny figures"
            if polarity is LIKE and _conditional(tokens, run):
                run.source = "conditional"  # "I'd like the field more if it was sharper"
                return None
            if [t.text for t in tokens[max(0, index - 2) : index]] == ["used", "to"]:
                # "I used to hate pastel palettes(, now ...)"
                return _by(run, "3", polarity.opposite)
            return _by(run, "3", polarity.opposite if negated(tokens, index) else polarity)
    # 4. A wish: what is wished for is liked, unless the wish is negated ("I wish it didn't
    #    have the watermark", "wish the highlights weren't so blown out").
    for index in range(run.start - 1, -1, -1):
        if tokens[index].kind == WISH:
            if _conditional(tokens, run):
                run.source = "conditional"  # "I'd like the field more if it were sharper"
                return None
            between = tokens[index + 1 : run.start]
            if any(t.kind == NEGATION or t.text in {"less", "fewer", "half"} for t in between):
                return _by(run, "4", DISLIKE)
            if run.negated_predicate or any(t.kind == NEGATION for t in tokens[run.start :]):
                return _by(run, "4", DISLIKE)
            return _by(run, "4", LIKE)
    # 5. An evaluation after it: "the palette is gorgeous", "isn't bad at all", "is okay".
    after = _evaluation_after(tokens, run)
    if after is not None:
        return _by(run, "5", after)
    # 6. Its predicate: "not dark enough" (wants more), "could be warmer", "seems rich".
    if run.predicate:
        if run.end < len(tokens) and tokens[run.end].text == "enough":
            return _by(run, "want", LIKE)  # "not dark enough": dark is wanted
        if wished(list(tokens), run):
            return _by(run, "want", LIKE)
        words = [t.text for t in run.predicate]
        understated = not run.negated_predicate and _understated(tokens, run)
        if understated and ValenceReader.lexical(words) is not LIKE:
            # "the legs seem a little long", "the rim light seems a touch strong": a mild
            # complaint, unless the word is praise outright ("a bit lovely")
            return _by(run, "6", DISLIKE)
        said = valence.asked(words, questions)
        if said is not None:
            return _by(run, "6", said.opposite if run.negated_predicate else said)
        if any(t.kind in EVALUATIONS for t in tokens[: run.start]):
            # "the pretty pastel door feels a bit twee": the praise before the name and the
            # unread predicate may disagree; no verdict rather than a guess
            return None
    # 7. An evaluation before it: "beautiful teal", "nice grain".
    for index in range(run.start - 1, -1, -1):
        token = tokens[index]
        if token.kind in EVALUATIONS:
            polarity = LIKE if token.kind == POS else DISLIKE
            return _by(run, "7", polarity.opposite if negated(tokens, index, 2) else polarity)
    # 8. The phrase's own loaded adjective ("cluttered", "vibrant"), when nothing else speaks;
    #    in a verbless fragment ("Such calm wavy lines.") its modifiers are read by MiniLM too.
    if clause_verdict(tokens) is None and _verbless(tokens):
        # only in a verbless fragment ("Cluttered background."): in a sentence, the name's own
        # adjectives ("that harsh noon shadow ... makes the photo") are not its verdict
        own = ValenceReader.lexical([t.text for t in run.words])
        if own is None and len(run.words) > 1:
            own = valence.asked([t.text for t in run.words[:-1]], questions)
        return _by(run, "8", own)
    return None


def _cleft(tokens: Sequence[Token], run: Run) -> Polarity | None:
    """The verdict of "What I love / what spoils it ... is X", for X after the copula."""
    if not tokens or tokens[0].text != "what":
        return None
    copula = next((i for i in range(1, run.start) if tokens[i].text in {"is", "are", "was"}), None)
    if copula is None:
        return None
    for index in range(1, copula):
        token = tokens[index]
        if token.kind in FORWARD or token.kind in EVALUATIONS:
            polarity = LIKE if token.kind in {CUE_LIKE, POS} else DISLIKE
            return polarity.opposite if negated(tokens, index) else polarity
    return None


_UNDERSTATEMENTS = frozenset({"a bit", "a little", "a touch", "a tad", "slightly", "bit"})


def _understated(tokens: Sequence[Token], run: Run) -> bool:
    """ "a bit soft", "a little long": a describing word toned down is a criticism."""
    if run.predicate_start is None:
        return False
    before = [t.text for t in tokens[max(0, run.predicate_start - 2) : run.predicate_start]]
    return bool(set(before) & _UNDERSTATEMENTS)


def _conditional(tokens: Sequence[Token], run: Run) -> bool:
    """ "I'd like the wheat field more if it was sharper": liked only as it is not."""
    after = [t.text for t in tokens[run.end :]]
    return any(a in {"more", "better"} and b == "if" for a, b in pairwise(after))


def _guessed(tokens: Sequence[Token], run: Run, separator: tuple[int, Polarity] | None) -> bool:
    """Whether only the phrase's own describing words gave its polarity (step 8)."""
    return (
        separator is None
        and not run.predicate
        and clause_verdict(tokens) is None
        and local_marker(tokens, run.start) is None
        and not any(t.kind in FORWARD | EVALUATIONS | {WISH, OKAY} for t in tokens)
    )


def _verbless(tokens: Sequence[Token]) -> bool:
    return not any(t.text in COPULAS or t.text in _VERBS for t in tokens)


_VERBS = frozenset({"make", "makes", "made", "give", "gives", "gave", "have", "has", "had",
                    "do", "does", "did", "get", "gets", "got", "add", "adds", "see",
                    "saw"})  # fmt: skip


def _evaluation_after(tokens: Sequence[Token], run: Run) -> Polarity | None:
    for index in range(run.end, len(tokens)):
        token = tokens[index]
        if token.kind in EVALUATIONS or token.kind == OKAY:
            polarity = DISLIKE if token.kind == NEG else LIKE
            return polarity.opposite if negated(tokens, index, 2) else polarity
        if token.kind == WORD:
            return None
    return None


def local_marker(tokens: Sequence[Token], start: int) -> Polarity | None:
    index = start - 1
    while index >= 0 and tokens[index].kind in {INTENS, STOP} and tokens[index].text in _SKIPPABLE:
        index -= 1
    if index < 0:
        return None
    token = tokens[index]
    if token.kind == TOO or token.text in {"too much", "too many"}:
        return LIKE if negated(tokens, index, 2) else DISLIKE
    if token.text in {"no more", "less", "fewer"}:
        return DISLIKE
    if token.kind == MORE:
        return DISLIKE if negated(tokens, index, 2) else LIKE
    if token.kind == NEGATION and token.text in {"without", "no", "zero"}:
        return DISLIKE
    if token.text == "just" and index > 0 and tokens[index - 1].text in COPULAS:
        return DISLIKE  # "the rest is just murk", "it's just a flat gradient": dismissive
    return None


def _strength(tokens: Sequence[Token]) -> float:
    texts = {t.text for t in tokens}
    kinds = {t.kind for t in tokens}
    litotes = any(
        t.kind in {NEG, CUE_DISLIKE} and negated(tokens, i, 2) for i, t in enumerate(tokens)
    ) or any(t.text.startswith("no complaints") for t in tokens)
    negated_strong = any(
        t.text in lexicon.STRONG_WORDS and negated(tokens, i) for i, t in enumerate(tokens)
    )
    excess = any(
        a.text in {"way", "far", "much"} and (b.kind == TOO or b.text in {"too much", "too many"})
        for a, b in pairwise(tokens)
    )
    if litotes or "do not mind" in texts:
        strength = WEAK  # "isn't bad", "I don't hate", "I don't mind": a lukewarm yes
    elif negated_strong:
        strength = MEDIUM  # "I can't say I love it": a plain no, not a strong one
    elif texts & lexicon.STRONG_WORDS or excess:
        strength = STRONG  # "gorgeous", "way too much"
    elif OKAY in kinds and not kinds & (FORWARD | EVALUATIONS):
        strength = WEAK
    elif INTENS in kinds:
        strength = FIRM
    else:
        strength = MEDIUM
    if any(a.kind == POS and b.text == "enough" for a, b in pairwise(tokens)):
        strength = WEAK  # "pleasant enough": lukewarm
    if HEDGE in kinds:
        # "kinda love", "maybe the nicest": a hedged verdict is a weak one, however strong
        strength = max(0.3, min(round(strength - 0.3, 2), _HEDGED))
    return strength


_HEDGED = 0.5


def _hedged_afterwards(clauses: Sequence[Clause]) -> None:
    """ "The glow in her hair is pretty, I think.": a hedge on its own hedges what came before."""
    for before, clause in pairwise(clauses):
        kinds = {t.kind for t in clause.tokens}
        if before.sentence == clause.sentence and HEDGE in kinds and kinds <= {HEDGE, STOP}:
            for run in before.runs:
                run.strength = max(0.3, min(round(run.strength - 0.3, 2), _HEDGED))


__all__ = ["assign", "clause_verdict", "local_marker", "negated"]
