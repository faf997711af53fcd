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

Then the explicit links across clauses and sentences in ``across`` ("..., which I actually
like", similes, someone else's opinion, a borrowed verdict the phrase's own words contradict).
Each run remembers which reading gave its polarity (``Run.source``: the step of
``_run_polarity``, or the rule's name), because later stages trust a phrase's own reading more
than a borrowed one.

A verdict is never carried into another sentence otherwise, and a phrase still without one is
left out rather than guessed. Strength follows the words (``verdict.clause_strength``).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby, pairwise

from agent.offline import across
from agent.offline.comparison import preference_split
from agent.offline.pairing import COPULAS, Run, wished
from agent.offline.segment import Clause
from agent.offline.tokens import (
    CUE_LIKE,
    EVALUATIONS,
    FORWARD,
    NEG,
    NEGATION,
    OKAY,
    POS,
    SARCASM,
    WISH,
    WORD,
    Token,
)
from agent.offline.valence import ValenceReader
from agent.offline.verdict import (
    DISLIKE,
    LIKE,
    clause_strength,
    clause_verdict,
    elliptical_negation,
    local_marker,
    negated,
)
from preference_store.models import Polarity

_HABITUAL = frozenset({"normally", "usually", "typically", "generally", "often"})


def assign(
    clauses: Sequence[Clause], valence: ValenceReader, questions: list[str] | None = None
) -> None:
    """Set ``polarity`` and ``strength`` on every run of every clause.

    With ``questions``, describing words the valence reader has not voted on yet are collected
    there (and read as no verdict): the caller embeds them in one batch and assigns again.
    """
    for _, group in groupby(clauses, key=lambda c: c.sentence):
        _sentence(list(group), valence, questions)
    across.verdict_sentences(clauses)
    _marked(clauses)


def _marked(clauses: Sequence[Clause]) -> None:
    """A phrase no words judge takes the ✔️/❌ or emoji of its clause, else of its sentence
    ("✔️ soft light, warm tones"); an emoji's reading is a guess (``marks``)."""
    for _, group in groupby(clauses, key=lambda c: c.sentence):
        sentence = list(group)
        found = {c.mark for c in sentence if c.mark is not None}
        shared = found.pop() if len(found) == 1 else None
        for clause in sentence:
            mark = clause.mark or shared
            if mark is None:
                continue
            for run in clause.runs:
                # a mark the person put there outranks a guess from the phrase's own words
                if (run.polarity is None and not run.undecided) or run.source == "guess":
                    run.polarity, run.source = mark
                    run.guessed = False


def _sentence(clauses: list[Clause], valence: ValenceReader, questions: list[str] | None) -> None:
    previous: Polarity | None = None
    verdicts: list[Polarity | None] = []
    guesses: dict[int, Polarity] = {}  # by id(run): read only from its own describing words
    for clause in clauses:
        verdict = clause_verdict(clause.tokens)
        verdicts.append(verdict)
        separator = preference_split(clause.tokens)
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
            run.strength = clause_strength(clause.tokens)
        fallback = previous.opposite if clause.after_contrast and previous else previous
        opens_not = bool(clause.tokens) and clause.tokens[0].text == "not"
        if previous and verdict is None and (elliptical_negation(clause.tokens) or opens_not):
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
    across.hedged_afterwards(clauses)
    across.reported_opinions(clauses)
    across.relative_verdicts(clauses)
    across.simile_verdicts(clauses, valence, questions)
    across.doubt_borrowed(clauses, valence, questions)
    for clause in clauses:  # a doubted borrowing leaves the phrase its own words ("crisp")
        for run in clause.runs:
            if run.polarity is None and id(run) in guesses:
                run.polarity, run.source, run.guessed = guesses[id(run)], "guess", True
    if any(t.kind == SARCASM for c in clauses for t in c.tokens) or across.mock_praise(clauses):
        for clause in clauses:
            for run in clause.runs:
                run.polarity = DISLIKE
                run.source = "sarcasm" if run.polarity is not None else ""


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


__all__ = ["assign", "clause_verdict", "local_marker", "negated"]
