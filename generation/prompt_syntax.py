"""A1111 prompt syntax read into weighted fragments for compel (docs/design.md, "Prompt weighting
and long prompts").

compel has its own syntax (``word++``, ``(word)1.3``) and no reader for AUTOMATIC1111's, which is
what people paste: ``(word:1.3)``, ``(word)`` ×1.1, ``[word]`` ÷1.1 (nested brackets multiply),
``\\(`` for a literal bracket and ``BREAK`` to start a new 75-token chunk. This module turns such a
prompt into ``[(text, weight), …]`` per BREAK segment, which compel's embeddings provider takes
as it is, so compel's own parser (and its escaping rules) never sees A1111 text. A1111's prompt
editing (``[a:b:0.5]``) and alternation (``[a|b]``) are not read: their text stays as written.

Pure (no model): the plan uses it to weight attributes and to count tokens without the syntax.
"""

from __future__ import annotations

import re

CHUNK_TOKENS = 75
"""Tokens of one CLIP chunk between its start and end markers (77 − 2)."""

MAX_CHUNKS = 3
"""The hard budget: a prompt, a negative prompt, VP+ and VP− are each read up to this many
75-token chunks; the plan records what did not fit."""

ROUND = 1.1
SQUARE = 1 / 1.1
ATTRIBUTE_WEIGHTS = (1.0, 1.2)
"""An attribute's strength 0 → 1 maps linearly onto this weight range. Never below 1: compel
encodes the whole text once more for every fragment weighted under 1, and ``bench/prompts.py``
measured 20 such attributes at 44× the encode time of an unweighted list; above 1 a weight is
arithmetic on the one encoding."""

Fragment = tuple[str, float]

_SCAN = re.compile(
    r"\\[()\[\]\\]"  # an escaped bracket or backslash
    r"|\(|\["
    r"|:\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*\)"  # ':1.3)' closes a weighted group
    r"|\)|\]"
    r"|[^\\()\[\]:]+|[\\:]",
)
_BREAK = re.compile(r"\s*\bBREAK\b\s*")


def parse(text: str) -> list[list[Fragment]]:
    """BREAK segments of ``(text, weight)`` fragments; neighbours of equal weight are merged.

    Unmatched closing brackets are literal text; an unclosed one weights to the end, as in A1111.
    """
    pieces: list[list[str | float] | None] = []  # None marks a BREAK
    round_open: list[int] = []
    square_open: list[int] = []

    def scale(start: int, factor: float) -> None:
        for piece in pieces[start:]:
            if piece is not None:
                piece[1] = float(piece[1]) * factor

    for match in _SCAN.finditer(text):
        token, weight = match.group(0), match.group(1)
        if len(token) == 2 and token[0] == "\\":
            pieces.append([token[1], 1.0])
        elif token == "(":
            round_open.append(len(pieces))
        elif token == "[":
            square_open.append(len(pieces))
        elif weight is not None and round_open:
            scale(round_open.pop(), float(weight))
        elif token == ")" and round_open:
            scale(round_open.pop(), ROUND)
        elif token == "]" and square_open:
            scale(square_open.pop(), SQUARE)
        else:
            for index, part in enumerate(_BREAK.split(token)):
                if index:
                    pieces.append(None)
                pieces.append([part, 1.0])
    for start in round_open:
        scale(start, ROUND)
    for start in square_open:
        scale(start, SQUARE)

    segments: list[list[Fragment]] = [[]]
    for piece in pieces:
        if piece is None:
            segments.append([])
            continue
        part, weight = str(piece[0]), round(float(piece[1]), 6)
        segment = segments[-1]
        if segment and segment[-1][1] == weight:
            segment[-1] = (segment[-1][0] + part, weight)
        elif part:
            segment.append((part, weight))
    kept = [segment for segment in segments if any(part.strip() for part, _ in segment)]
    return kept or [[("", 1.0)]]


def plain_text(text: str) -> str:
    """The words without the syntax (weights, brackets, BREAK): what CLIP's tokens are made of."""
    return " ".join("".join(part for part, _ in segment).strip() for segment in parse(text))


def is_weighted(text: str) -> bool:
    """Whether the syntax changes anything: a weight other than 1 or a BREAK."""
    segments = parse(text)
    return len(segments) > 1 or any(weight != 1.0 for _, weight in segments[0])


def escape(text: str) -> str:
    """``text`` as literal words inside A1111 syntax (brackets and backslashes escaped)."""
    return re.sub(r"([\\()\[\]])", r"\\\1", text)


def weighted(text: str, weight: float) -> str:
    """``(text:weight)``, or the escaped text alone when the weight rounds to 1."""
    weight = round(weight, 2)
    if weight == 1.0:
        return escape(text)
    return f"({escape(text)}:{weight:g})"


def attribute_weight(strength: float) -> float:
    """An attribute's strength in [0, 1] as its prompt weight (``ATTRIBUTE_WEIGHTS``)."""
    low, high = ATTRIBUTE_WEIGHTS
    return round(low + (high - low) * min(max(strength, 0.0), 1.0), 2)
