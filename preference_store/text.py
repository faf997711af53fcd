"""Text and numbers as every way in must take them: one check, used by the models and routes.

PostgreSQL refuses NUL in text and a lone surrogate is not UTF-8 (both were 500s there while
SQLite took them); control characters and bidi overrides make stored text display as something
else than it is. Text is NFC-normalised, so "é" typed composed or decomposed is one attribute.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, ValidationInfo

# SQL INTEGER columns (versions, ids, counts) are 32-bit on PostgreSQL; every number that
# reaches one is bounded by this.
MAX_SQL_INTEGER = 2**31 - 1
# Validation context for reading back what is already stored: it is taken as it is (a row
# written before these checks must stay readable, and deletable).
STORED = {"stored": True}

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\t\n\r")


def _refused(char: str, *, multiline: bool) -> bool:
    if multiline and char in _LINE_BREAKS:
        return False
    return char in _BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs")


def clean_text(value: str, *, multiline: bool = False) -> str:
    """``value`` in NFC; ValueError naming the first character that may not be stored (control
    characters, NUL among them, lone surrogates, bidi overrides; tab and line breaks are
    allowed in ``multiline`` text)."""
    for char in value:
        if _refused(char, multiline=multiline):
            name = unicodedata.name(char, "a control character")
            raise ValueError(f"contains U+{ord(char):04X} ({name}), which text may not hold")
    return unicodedata.normalize("NFC", value)


def is_stored(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("stored"))


def _line(value: str, info: ValidationInfo) -> str:
    return value if is_stored(info) else clean_text(value)


def _paragraph(value: str, info: ValidationInfo) -> str:
    return value if is_stored(info) else clean_text(value, multiline=True)


Line = Annotated[str, AfterValidator(_line)]
"""One line of text: names, ids, short phrases."""

Paragraph = Annotated[str, AfterValidator(_paragraph)]
"""Free text that may span lines: comments, evidence."""
