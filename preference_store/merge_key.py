"""The merge key: one key for the ways people spell one attribute.

"Colours" and "colors", "grey" and "gray", "teal and gold palette" and "gold and teal palette",
"warm golden light" and "golden warm light" are one attribute. The key:

1. case, spacing and edge punctuation are ignored;
2. British spellings are folded to American ones ("colour" → "color", "centre" → "center",
   "-ise" verbs in the list below), and "grey" → "gray";
3. plurals become singular ("shadows" → "shadow", "skies" → "sky", "brushes" → "brush");
4. "and"/"&" between modifiers and the modifiers' order do not count, but the last word (the
   head noun: "light blue" is a blue, "blue light" is a light) stays last.

Deliberately rule-based and small: a wrong merge joins two attributes a person meant apart, so
anything doubtful stays apart.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_CONNECTORS = frozenset({"and", "&"})
# fmt: off
_SPELLING = {
    "colour": "color", "colours": "colors", "coloured": "colored", "colourful": "colorful",
    "colouring": "coloring", "grey": "gray", "greys": "grays", "greyish": "grayish",
    "greyscale": "grayscale", "centre": "center", "centred": "centered",
    "harmonise": "harmonize", "stylised": "stylized", "realise": "realize",
    "favourite": "favorite", "theatre": "theater", "metre": "meter", "lustre": "luster",
    "sombre": "somber", "vapour": "vapor", "armour": "armor", "harbour": "harbor",
    "neighbour": "neighbor", "moustache": "mustache", "jewellery": "jewelry",
    "aeroplane": "airplane", "mould": "mold",
    "blue-grey": "blue-gray", "off-centre": "off-center",
}
# Words that end in "s" and are not plurals.
_NOT_PLURAL = frozenset({
    "glass", "gloss", "grass", "canvas", "chaos", "mass", "moss", "lens", "bias", "focus",
    "always", "various", "glamorous", "luminous", "gorgeous", "famous", "nervous",
    "previous", "this", "is", "was", "its", "minimalism", "impressionism", "cubism", "realism",
    "surrealism", "expressionism", "atlas", "iris", "gas", "bus", "plus", "less", "loess",
    "chiaroscuro", "ukiyo-e", "emboss", "dress", "process", "business", "darkness",
    "brightness", "softness", "sharpness", "vastness", "stillness", "emptiness", "richness",
})
# fmt: on


def singular(word: str) -> str:
    """A plural noun's singular; anything else unchanged (rules for English visual terms)."""
    if len(word) <= 3 or word in _NOT_PLURAL or word.endswith(("ss", "us", "is", "ness")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def fold_spelling(text: str) -> str:
    """Lower case, American spelling and singular nouns, word order kept ("Grey skies" → "gray
    sky"): for matching words against word lists."""
    words = _WORD.findall(text.casefold().replace("&", " and "))
    return " ".join(singular(_SPELLING.get(w, w)) for w in words)


def merge_key(text: str) -> str:
    """The key two attributes are merged on (see the module docstring)."""
    words = [_SPELLING.get(w, w) for w in _WORD.findall(text.casefold().replace("&", " and "))]
    words = [singular(w) for w in words if w not in _CONNECTORS]
    if len(words) <= 1:
        return " ".join(words)
    return " ".join([*sorted(words[:-1]), words[-1]])
