"""Counts in words: "1 image", "2 images" (never "1 images")."""

from __future__ import annotations


def count(number: int, noun: str, plural: str | None = None) -> str:
    return f"{number} {noun if number == 1 else plural or noun + 's'}"
