"""Help text as people read it elsewhere: ``Usage: tastemaker prefs show [OPTIONS] USER`` and
flags without a ``<bool>`` type (issue 27, item 17).

typer 0.29 writes a required argument as ``{user}`` in the usage line and gives every flag a
``<bool>`` type column; both read like template placeholders left unfilled. Two small overrides
of typer's own rendering (the version is pinned in constraints.txt; tests/test_cli_help.py reads
the real help output, so a typer that renders differently fails there, not in front of people).
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperOption

_option_type = TyperOption.display_type_rich


def _usage_name(argument: TyperArgument) -> str:
    """``USER``, ``[NAME]``, ``IMAGES...``: click's classic usage words."""
    name = argument.display_name_raw.upper()
    name = name if argument.required else f"[{name}]"
    return name + ("..." if argument.nargs != 1 else "")


def _flag_type(option: TyperOption, ctx: Any) -> str | None:
    """No type for a flag (``--json``): it takes no value."""
    return None if option.is_flag else _option_type(option, ctx)


def apply() -> None:
    TyperArgument._usage_display_name = _usage_name  # type: ignore[method-assign,assignment]
    TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign,assignment]
