"""Stage 3: clause tokens → candidate feature phrases ("runs"), paired with their predicates.

A run is a stretch of content words. Two joins build the phrase a person meant:

* names: "teal and gold palette", "magenta and cyan lights", "neon on black" are one feature
  (colour words joined by "and"/"on" to each other or to the noun they share);
* predicates: "the light feels gentle and warm" → "gentle warm light"; the predicate words are
  kept apart (``Run.predicate``) because they may carry the verdict ("the gold is cheap").

Valence words inside a name ("flat graphic look", "dark background") stay part of the name: the
polarity stage reads a verdict from them only when nothing else in the clause gives one.

Context is not a feature: the object of a simile ("looks like clip art", "reminds me of old
games", "would work as a poster") and a place that is not itself visual ("the candlelight on the
fruit", "the trees on the left", "perfect for a morning") are dropped, so the predicate after
them pairs with the feature they belong to ("the candlelight on the fruit is warm" → "warm
candlelight"). "the texture of the grapes" stays one phrase.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.offline.tokens import HEDGE, INTENS, NEG, NEGATION, POS, STOP, TOO, WISH, WORD, Token
from agent.vocabulary import CATEGORY_HEADS, NOUN_HEADS
from preference_store.models import Category, Polarity

COPULAS = frozenset({"is", "are", "was", "were", "be", "been", "looks", "look", "looked",
                     "feels", "feel", "felt", "seems", "seem", "seemed", "gets", "got",
                     "appears", "appear", "appeared",
                     "becomes", "remain", "remains", "stays"})  # fmt: skip
_DETERMINERS = frozenset({"the", "this", "that", "these", "those", "its", "their", "your",
                          "his", "her", "my", "our"})  # fmt: skip
_NAME_JOINERS = frozenset({"and", "on", "to"})
_NOUNISH_LOOK = frozenset({"look", "feel", "vibe"})
_SIMILES = frozenset({"like", "as", "suits", "reminds me of", "remind me of", "reminded me of",
                      "reminiscent of"})  # fmt: skip
_PLACES = frozenset({"on", "in", "at", "against", "behind", "across", "under", "above", "below",
                     "beneath", "near", "around", "inside", "outside", "along", "through",
                     "beside", "between", "among", "within", "throughout", "into", "onto",
                     "after", "for", "from"})  # fmt: skip
_POSITIONS = frozenset({"left", "right", "top", "bottom", "middle", "side", "sides", "corner",
                        "corners", "edge", "edges", "centre", "center", "front", "back", "end",
                        "distance", "frame"})  # fmt: skip
_OWNERS = frozenset({"the", "a", "an", "this", "that", "these", "those", "its", "their", "my",
                     "your", "his", "her", "our", "some", "every"})  # fmt: skip


@dataclass
class Run:
    """A candidate attribute phrase and where it sits in its clause's tokens."""

    words: list[Token]
    start: int
    end: int  # exclusive
    predicate: list[Token] = field(default_factory=list)  # "cheap" in "the gold is cheap"
    predicate_start: int | None = None
    negated_predicate: bool = False  # "the muted greens aren't boring"
    polarity: Polarity | None = None  # set by the polarity stage
    strength: float = 0.7
    guessed: bool = False  # polarity read only from the phrase's own describing words
    undecided: bool = False  # its own predicate is unread: no verdict borrowed from elsewhere
    source: str = ""  # which reading gave the polarity ("3", "fallback", ...: see ``polarity``)

    @property
    def text(self) -> str:
        return " ".join(t.text for t in self.words)

    @property
    def merged_from_predicate(self) -> bool:
        return bool(self.predicate)


def find_runs(tokens: list[Token], *, join_predicates: bool = True) -> list[Run]:
    """The clause's candidate phrases, in reading order."""
    _nounify_look(tokens)
    runs: list[Run] = []
    current: list[Token] = []
    start = 0
    for index, token in enumerate(tokens):
        if token.kind == WORD and _verb(tokens, index, bool(current)):
            # "the colours melt into each other", "the blacks come out grey": a verb after a
            # name ends it; it is never part of a feature
            tokens[index] = Token(token.text, STOP)
            if index + 1 < len(tokens) and tokens[index + 1].text in _PARTICLES:
                tokens[index + 1] = Token(tokens[index + 1].text, STOP)
            token = tokens[index]
        if token.kind == WORD:
            if not current:
                start = index
            current.append(token)
            continue
        if current:
            runs.append(Run(current, start, index))
            current = []
    if current:
        runs.append(Run(current, start, len(tokens)))
    runs = join_names(tokens, runs)
    runs = drop_context(tokens, runs)
    if join_predicates:
        runs = _join_predicates(tokens, runs)
    return runs


_FINITE_VERBS = frozenset({"comes", "come", "came", "goes", "went", "sits", "sat", "melts",
                           "melt", "bleeds", "bleed", "drifts", "leads", "stands", "sticks",
                           "blows", "fades", "catches", "gets", "spills", "spill",
                           "bends", "bend"})  # fmt: skip
_MOTION_VERBS = _FINITE_VERBS | {"falls"}  # "-ing" forms: "coming", "leading", "falling"
_PARTICLES = frozenset({"out", "off", "away", "up", "down", "through", "into", "over", "toward",
                        "towards"})  # fmt: skip


def _verb(tokens: list[Token], index: int, after_name: bool) -> bool:
    """A finite verb of motion or state ("comes", "sits", "melt"), or its "-ing" form right
    after a name ("the light coming through", "a winding path leading in")."""
    text = tokens[index].text
    if text in _FINITE_VERBS:
        return True
    return after_name and text.endswith("ing") and f"{text[:-3]}s" in _MOTION_VERBS


def is_nominal(run: Run) -> bool:
    last = run.words[-1].text
    head = last.rsplit(" ", 1)[-1]
    return (
        last in CATEGORY_HEADS
        or head in NOUN_HEADS
        or head in CATEGORY_HEADS
        or head in _NOUNISH_LOOK
        or run.words[-1].category is Category.SUBJECT
    )


def _colourish(run: Run) -> bool:
    return all(t.category is Category.COLOR for t in run.words)


def join_names(tokens: list[Token], runs: list[Run]) -> list[Run]:
    """ "teal and gold palette" / "red and navy" / "neon on black": one feature, not two."""
    joined: list[Run] = []
    for run in runs:
        if joined:
            previous = joined[-1]
            between = [t.text for t in tokens[previous.end : run.start]]
            if (
                len(between) == 1
                and between[0] in _NAME_JOINERS
                and _colourish(previous)
                and Category.COLOR in {run.words[0].category, run.words[-1].category}
            ):
                joiner = Token(between[0], WORD)
                joined[-1] = Run([*previous.words, joiner, *run.words], previous.start, run.end)
                continue
        joined.append(run)
    return joined


def drop_context(tokens: list[Token], runs: list[Run]) -> list[Run]:
    """Similes' objects and non-visual places are context, not features (see the docstring).

    A dropped phrase's words become stopwords of the clause, so "the candlelight on the fruit is
    warm" pairs "warm" with "candlelight"."""
    kept: list[Run] = []
    for run in runs:
        index = run.start - 1
        while index >= 0 and tokens[index].text in _OWNERS:
            index -= 1
        marker = ""
        if index >= 0 and (tokens[index].kind == STOP or tokens[index].text == "suits"):
            marker = tokens[index].text
        if marker == "of" and kept and kept[-1].end == index:
            if not _is_of_phrase(tokens, index):
                # "the limited palette of teal and gold": the name is the feature
                for position in range(run.start, run.end):
                    tokens[position] = Token(tokens[position].text, STOP)
                continue
            previous = kept[-1]
            head = previous.words[0]
            if head.category is None or head.text in CATEGORY_HEADS:
                # "the texture of the grapes", "the size of the pixels": one feature
                words = [*previous.words, Token("of", WORD), *run.words]
                kept[-1] = Run(words, previous.start, run.end)
                continue
            # "the rhythm of the wavy lines": two features
        simile = marker in _SIMILES or _remind_of(tokens, index) or _alternative(tokens, index)
        place = marker in _PLACES and _not_visual(run, marker)
        if simile or place:
            for position in range(run.start, run.end):
                tokens[position] = Token(tokens[position].text, STOP)
            continue
        kept.append(run)
    return kept


def _alternative(tokens: list[Token], index: int) -> bool:
    """ "looks like noise rather than texture", "dirty instead of old", "compared to the first
    one": the other side may be the wanted one or the rejected one; it is left out."""
    pair = [t.text for t in tokens[max(0, index - 1) : index + 1]]
    return pair in (["rather", "than"], ["instead", "of"], ["compared", "to"], ["compared", "with"])


def _remind_of(tokens: list[Token], index: int) -> bool:
    """ "reminds me of", "reminiscent of": what follows is a comparison, not a feature."""
    texts = [t.text for t in tokens[max(0, index - 2) : index + 1]]
    return texts[-1:] == ["of"] and any(t.startswith("remind") for t in texts)


def _is_of_phrase(tokens: list[Token], index: int) -> bool:
    """ "the texture of the grapes": one word before "of" names a part or quality of what
    follows; after a longer name ("the limited palette of teal and gold") what follows only
    elaborates, and the name alone is the feature."""
    if index == 0 or tokens[index - 1].kind != WORD or " " in tokens[index - 1].text:
        return False
    return index == 1 or tokens[index - 2].kind != WORD


def _not_visual(run: Run, marker: str) -> bool:
    """A place that is not a feature: no visual term, a position ("the left"), or a bare colour
    as a ground ("neon circles on black", "falls off into the black")."""
    visual = [t for t in run.words if t.category not in {None, Category.SUBJECT}]
    ground = len(run.words) == 1 and run.words[0].category is Category.COLOR and marker != "from"
    return not visual or ground or run.words[-1].text in _POSITIONS


def _subject(tokens: list[Token], run: Run) -> bool:
    """Whether a run can be the subject of "is/feels ...": a noun, or "the <words>"."""
    index = run.start - 1
    while index >= 0 and tokens[index].kind in {POS, NEG, INTENS}:
        index -= 1  # "the pretty pastel door feels ...": the name opens after "the"
    return is_nominal(run) or (index >= 0 and tokens[index].text in _DETERMINERS)


def _join_predicates(tokens: list[Token], runs: list[Run]) -> list[Run]:
    """ "the background is cluttered" → "cluttered background" (one phrase, not two)."""
    joined: list[Run] = []
    for run in runs:
        if joined and not is_nominal(run):
            previous = joined[-1]
            between = tokens[previous.end : run.start]
            texts = [t.text for t in between]
            if previous.predicate and texts == ["and"]:
                # "the light feels gentle and warm": a second predicate word
                named = previous.words[: len(previous.predicate)] + run.words
                if previous.negated_predicate and previous.words[0] is not previous.predicate[0]:
                    named = []  # negated: the predicate words are not part of the name
                joined[-1] = Run(
                    named + previous.words[len(previous.predicate) :],
                    previous.start,
                    run.end,
                    predicate=previous.predicate + run.words,
                    predicate_start=previous.predicate_start,
                    negated_predicate=previous.negated_predicate,
                )
                continue
            if (
                not previous.predicate
                and _subject(tokens, previous)
                and between
                and all(t.kind in {STOP, INTENS, TOO, HEDGE, NEGATION, WISH} for t in between)
                and any(t.text in COPULAS or _wished_state(t) for t in between)
                and "like" not in texts  # "the lines feel like water": a simile, not a state
                and not set(texts) & {"beat", "beats", "over", "than"}  # a comparison
                and not set(texts) & {"what", "which", "who"}  # "is what makes the photo"
            ):
                negated = any(t.kind == NEGATION for t in between)
                following = tokens[run.end].text if run.end < len(tokens) else ""
                wanted = following == "enough"
                # "the background isn't gloomy": the feature is the background, not gloom;
                # "the warm light is stronger than ...": a comparison, not part of the name
                # "the rim light is a masterstroke": a noun said of it is a verdict, not a name
                nominal = texts[-1] in {"a", "an"}
                bare = (negated and not wanted) or following in {"than", "than that"} or nominal
                joined[-1] = Run(
                    previous.words if bare else run.words + previous.words,
                    previous.start,
                    run.end,
                    predicate=list(run.words),
                    predicate_start=run.start,
                    negated_predicate=negated,
                )
                continue
            if _second_evaluation(between, previous, tokens):
                continue  # "the deep blues are gorgeous and so calming": said of the blues
        joined.append(run)
    return joined


def _second_evaluation(between: list[Token], previous: Run, tokens: list[Token]) -> bool:
    """A describing word joined by "and" to a verdict on the feature before it ("are lovely
    and loose") describes that feature; it is not a feature of its own."""
    texts = [t.text for t in between]
    return (
        _subject(tokens, previous)
        and "and" in texts
        and bool(set(texts) & COPULAS)
        and any(t.kind in {POS, NEG} for t in between)
        and all(t.kind in {STOP, INTENS, POS, NEG, HEDGE} for t in between)
    )


def _wished_state(token: Token) -> bool:
    """ "could be", "should be": the predicate after it is what the person wants."""
    return token.kind == WISH and token.text.endswith(" be")


def wished(tokens: list[Token], run: Run) -> bool:
    """Whether the run's predicate is wished for ("the greens could be warmer")."""
    if run.predicate_start is None:
        return False
    return any(_wished_state(t) for t in tokens[run.start : run.predicate_start])


def _nounify_look(tokens: list[Token]) -> None:
    """ "the flat graphic look feels calm": here "look" is a noun, part of the name."""
    for index, token in enumerate(tokens[1:-1], start=1):
        if (
            token.text in _NOUNISH_LOOK
            and token.kind == STOP
            and tokens[index - 1].kind == WORD
            and tokens[index + 1].text in COPULAS
        ):
            tokens[index] = Token(token.text, WORD, Category.STYLE)
