"""Counts read as English: "1 image", "2 images"."""

from __future__ import annotations

from api.cli.words import count


def test_one_is_singular_and_the_rest_plural() -> None:
    assert count(1, "image") == "1 image"
    assert count(0, "image") == "0 images"
    assert count(2, "attribute") == "2 attributes"
    assert count(3, "person", "people") == "3 people"
