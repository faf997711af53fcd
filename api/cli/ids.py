"""Git-style ids on the command line: any unique prefix of an id stands for it."""

from __future__ import annotations

from collections.abc import Iterable


class AmbiguousId(ValueError):
    """A prefix that starts more than one id; the message lists them so the person can pick."""


def resolve_prefix(prefix: str, ids: Iterable[str], *, what: str = "id") -> str | None:
    """The one id in ``ids`` that equals or starts with ``prefix``; None when none does.

    An exact match wins over longer ids that merely start with it, as in git.
    """
    wanted = prefix.strip()
    if not wanted:
        return None
    matches = sorted({i for i in ids if i.startswith(wanted)})
    if wanted in matches or len(matches) == 1:
        return wanted if wanted in matches else matches[0]
    if not matches:
        return None
    shown = ", ".join(matches[:10]) + (
        f" and {len(matches) - 10} more" if len(matches) > 10 else ""
    )
    raise AmbiguousId(f"{what} prefix {wanted!r} is ambiguous: it starts {shown}")
