"""Prompt templates, kept as files and loaded and rendered by name.

Templates use ``string.Template`` placeholders (``$comment``), so JSON braces in a prompt need no
escaping, and a value is inserted verbatim once: nothing in a value is ever re-expanded.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from string import Template
from typing import Any


@cache
def load(name: str) -> str:
    """The text of ``prompts/<name>.txt`` (read once per process)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"bad prompt name {name!r}")
    return resources.files(__name__).joinpath(f"{name}.txt").read_text(encoding="utf-8")


def render(name: str, **values: str) -> str:
    """The template ``name`` with every ``$placeholder`` filled; a missing value raises."""
    return Template(load(name)).substitute(values)


def load_json(name: str) -> Any:
    """A shipped data file, ``prompts/<name>.json`` (e.g. the gallery prompts)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"bad prompt name {name!r}")
    return json.loads(resources.files(__name__).joinpath(f"{name}.json").read_text("utf-8"))
