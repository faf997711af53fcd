"""Which attributes contradict a prompt (the prompt wins), by opposing poles on visual axes.

Pure and rule-based, so the reason for every drop can be printed: "prompt asks for
'black and white' (monochrome); 'vivid colours' is chromatic". A liked attribute is dropped when
it sits on the opposite pole of an axis the prompt names; a disliked attribute is dropped when the
prompt asks for exactly what it describes (pushing the image away from the prompt helps no one).

Meaning, not only shared words: texts are compared after folding spelling and plurals ("grey
skies" reads as "gray sky"), and an attribute's category speaks for it where its words do not:
every colour attribute ("sage greens", "earthy tones") is chromatic, so a black-and-white prompt
conflicts with all of them. Measured on ``tests/data/conflict_pairs.jsonl`` (bench/conflicts.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from preference_store.merge_key import fold_spelling
from preference_store.models import Category, Polarity


@dataclass(frozen=True)
class Pole:
    axis: str
    name: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Axis:
    name: str
    first: Pole
    second: Pole

    def opposite(self, pole: Pole) -> Pole:
        return self.second if pole == self.first else self.first


def _axis(name: str, first: tuple[str, str], second: tuple[str, str]) -> Axis:
    return Axis(
        name,
        Pole(name, first[0], tuple(first[1].split("|"))),
        Pole(name, second[0], tuple(second[1].split("|"))),
    )


_HUES = (
    "red|orange|yellow|green|teal|cyan|blue|purple|violet|magenta|pink|gold|golden|turquoise|"
    "crimson|scarlet|emerald|amber|azure|indigo|pastel|pastels|sage|ochre|rust|coral|peach|"
    "lavender|lilac|sienna|burgundy|maroon|olive|mint|navy|cobalt|jewel tone|earth tone|earthy"
)

AXES: tuple[Axis, ...] = (
    _axis(
        "colour",
        (
            "monochrome",
            "black and white|black-and-white|b&w|monochrome|monochromatic|grayscale|greyscale|"
            "sepia|desaturated|colorless|colourless|washed-out|washed out|pencil sketch|"
            "pencil drawing|graphite|charcoal drawing|charcoal sketch|ink drawing|film noir|"
            "silver gelatin|tintype|daguerreotype",
        ),
        (
            "chromatic",
            _HUES + "|vivid|vibrant|colorful|colourful|saturated|rainbow|neon|technicolor|"
            "multicolored|multicoloured|color|colors|colour|colours|palette",
        ),
    ),
    _axis(
        "brightness",
        ("dark", "dark|night|nighttime|midnight|low key|low-key|dim|dimly lit|shadowy|noir"),
        ("bright", "bright|sunny|daylight|high key|high-key|sunlit|midday|noon|brightly lit"),
    ),
    _axis(
        "complexity",
        ("minimal", "minimalist|minimalism|minimal|simple|sparse|plain|negative space|uncluttered"),
        (
            "busy",
            "cluttered|clutter|busy|intricate|ornate|maximalist|maximalism|highly detailed|crowded",
        ),
    ),
    _axis(
        "medium",
        (
            "photographic",
            "photo|photograph|photography|photographic|photorealistic|photorealism|hyperrealistic|"
            "35mm|dslr|realistic",
        ),
        (
            "drawn or painted",
            "painting|painted|painterly|watercolor|watercolour|oil painting|cartoon|anime|"
            "illustration|illustrated|sketch|drawing|comic|brushwork|brush strokes|pixel art|"
            "cel shaded|impressionist|impressionism|cubist|cubism",
        ),
    ),
    _axis(
        "mood",
        ("cheerful", "cheerful|happy|joyful|playful|whimsical|upbeat|lighthearted"),
        ("sombre", "somber|sombre|melancholic|melancholy|gloomy|sad|eerie|ominous|bleak|creepy"),
    ),
    _axis(
        "temperature",
        ("warm", "warm|warm tones|warm palette|fiery"),
        ("cool", "cool|cool tones|cool palette|cold|icy|frosty"),
    ),
    _axis(
        "focus",
        ("sharp", "sharp|crisp|sharp focus|in focus|tack sharp"),
        ("blurred", "blurry|blurred|soft focus|out of focus|hazy"),
    ),
)

_WORD = re.compile(r"[a-z0-9&]+(?:-[a-z0-9]+)*")


@cache
def _pattern(term: str) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z0-9])" + re.escape(term) + r"(?![a-z0-9])")


def _forms(text: str) -> tuple[str, str]:
    """The text as written (lower case) and with spelling and plurals folded ("grey skies" →
    "gray sky"); a term matches either."""
    return " ".join(text.casefold().split()), fold_spelling(text)


def poles_in(text: str) -> dict[str, tuple[Pole, str]]:
    """For each axis the text names, the pole and the term that named it (first pole wins ties).

    The pole with the longer matching term wins, so "black and white" reads as monochrome.
    """
    forms = _forms(text)
    found: dict[str, tuple[Pole, str]] = {}
    for axis in AXES:
        hits: list[tuple[int, Pole, str]] = []
        for pole in (axis.first, axis.second):
            matches = [t for t in pole.terms if any(_pattern(t).search(f) for f in forms)]
            if matches:
                # The longest match decides between poles; the first listed one is reported.
                hits.append((max(len(t) for t in matches), pole, matches[0]))
        if hits:
            _, pole, term = max(hits, key=lambda h: h[0])
            found[axis.name] = (pole, term)
    return found


def stems(text: str) -> set[str]:
    """Content-word stems, for a crude "the prompt says the same thing" test."""
    words = _WORD.findall(text.casefold())
    return {_stem(w) for w in words if w not in _STOPWORDS and len(w) > 2}


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "y"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


_STOPWORD_TEXT = (
    "a an the of and or in on at with by for from to under over into very style lots much"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


_CHROMATIC = next(a for a in AXES if a.name == "colour").second


def contradiction(
    prompt: str, text: str, polarity: Polarity, category: Category | None = None
) -> str | None:
    """Why an attribute must yield to the prompt, or ``None`` when they can live together.

    ``category`` is the attribute's own: a colour attribute is chromatic even when none of its
    words is a colour name the lists know.
    """
    prompt_poles = poles_in(prompt)
    attribute_poles = poles_in(text)
    if category is Category.COLOR and "colour" not in attribute_poles:
        attribute_poles["colour"] = (_CHROMATIC, text)
    for axis_name, (attr_pole, attr_term) in attribute_poles.items():
        if axis_name not in prompt_poles:
            continue
        prompt_pole, prompt_term = prompt_poles[axis_name]
        if polarity is Polarity.LIKE and attr_pole != prompt_pole:
            return (
                f"contradicts the prompt: it asks for '{prompt_term}' ({prompt_pole.name}), "
                f"'{text}' is {attr_pole.name} ('{attr_term}')"
            )
        if polarity is Polarity.DISLIKE and attr_pole == prompt_pole:
            return (
                f"the prompt asks for it: '{prompt_term}' is {prompt_pole.name} like the "
                f"disliked '{text}'"
            )
    if polarity is Polarity.DISLIKE:
        attribute_stems = stems(text)
        if attribute_stems and attribute_stems <= stems(prompt):
            return f"the prompt asks for it: every word of the disliked '{text}' is in the prompt"
    return None
