"""``tastemaker generate``'s setting flags, made from the settings' declarations.

Each option of ``generation.options`` becomes a flag (``palp_lr`` → ``--palp-lr``) with the
declared default and help; the values reach the command as keyword arguments. Bounds are not
repeated as click ranges: the settings check them, with their own messages.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, TypeVar, get_args, get_origin

import typer

from generation.options import OPTIONS, Option

Command = TypeVar("Command", bound=Callable[..., None])


def _flag_type(option: Option) -> Any:
    """The plain type click parses (``width``'s ``Side`` is an int), optional when declared so.
    A name from a list (``--sampler``) is read as text, so that a wrong one gets the settings'
    one-line error listing the names, as a number out of bounds does."""
    value_type = option.value_type
    if get_origin(value_type) is Annotated:
        value_type = get_args(value_type)[0]
    if isinstance(value_type, type) and issubclass(value_type, Enum):
        value_type = str
    return value_type | None if option.optional else value_type


def _plain(default: Any) -> Any:
    return default.value if isinstance(default, Enum) else default


def with_setting_flags(command: Command) -> Command:
    """Give ``command`` (which takes ``**options``) one flag per option, after its own."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    flags = [
        inspect.Parameter(
            option.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=_plain(option.info.default),
            annotation=Annotated[_flag_type(option), typer.Option(help=option.info.description)],
        )
        for option in OPTIONS
    ]
    command.__signature__ = signature.replace(parameters=[*own, *flags])  # type: ignore[attr-defined]
    return command
