"""``tastemaker prefs``: see, search, edit, export and import what tastemaker believes."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from api.wiring import Components
from preference_store.categories import CategoryGuesser
from preference_store.models import AttributeDraft, Category, Polarity, VisualAttribute
from preference_store.transfer import export_profile, import_profile, parse_export

app = typer.Typer(help="See and edit a person's preferences.", no_args_is_help=True)
console = Console(highlight=False)

UserArg = Annotated[str, typer.Argument(help="The person's user id.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")]


def _attribute_json(attribute: VisualAttribute, **extra: Any) -> dict[str, Any]:
    return {**attribute.model_dump(mode="json"), **extra}


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def _table(title: str, rows: Sequence[tuple[VisualAttribute, float | None]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("category", "", "attribute", "strength", "id"):
        table.add_column(column)
    show_score = any(score is not None for _, score in rows)
    if show_score:
        table.add_column("match")
    for attribute, score in rows:
        mark = "[green]+ like[/]" if attribute.polarity is Polarity.LIKE else "[red]- dislike[/]"
        cells = [
            attribute.category.value,
            mark,
            attribute.text,
            f"{attribute.strength:.2f}",
            attribute.id[:12],
        ]
        if show_score:
            cells.append(f"{score:.2f}")
        table.add_row(*cells)
    return table


@app.command()
def add(
    user: UserArg,
    polarity: Annotated[Polarity, typer.Argument(help="like or dislike")],
    text: Annotated[str, typer.Argument(help="A concise phrase, e.g. 'teal palette'.")],
    category: Annotated[
        Category | None, typer.Option(help="Which aspect; guessed from the text when left out.")
    ] = None,
    strength: Annotated[float, typer.Option(min=0.0, max=1.0, help="0 to 1.")] = 0.7,
) -> None:
    """Add a liked or disliked attribute (creates the user on first use)."""
    components = Components()
    draft = AttributeDraft(
        text=text,
        category=category or Category.OTHER,
        polarity=polarity,
        strength=strength,
        source="cli",
    )
    if category is None:
        guessed = CategoryGuesser(components.embedder).guess(draft.text)
        draft = draft.model_copy(update={"category": guessed})
    components.accounts.ensure(user)
    (stored,) = components.store.add(user, [draft], reason="prefs add")
    console.print(
        f"{stored.polarity.value} [bold]{stored.text}[/] ({stored.category.value}, "
        f"strength {stored.strength:.2f}) id {stored.id}",
        soft_wrap=True,
    )


@app.command()
def show(user: UserArg, as_json: JsonOpt = False) -> None:
    """List a person's attributes grouped by category and polarity."""
    components = Components()
    components.accounts.require(user)
    profile = components.store.profile(user)
    if as_json:
        _print_json([_attribute_json(a) for a in profile.attributes])
        return
    rows = [
        (attribute, None)
        for by_polarity in profile.grouped().values()
        for attributes in by_polarity.values()
        for attribute in attributes
    ]
    console.print(_table(f"{user} — profile version {profile.version}", rows))
    if not rows:
        console.print("No attributes yet: `tastemaker prefs add` or `tastemaker onboard`.")


@app.command()
def search(
    user: UserArg,
    query: Annotated[str, typer.Argument(help="What to look for, in any words.")],
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Find a person's attributes by meaning, most relevant first."""
    components = Components()
    components.accounts.require(user)
    hits = components.store.search(user, query, limit=limit)
    if as_json:
        _print_json([_attribute_json(h.attribute, score=h.score) for h in hits])
        return
    console.print(_table(f"{user} — {query!r}", [(h.attribute, h.score) for h in hits]))


@app.command()
def delete(user: UserArg, attribute_id: Annotated[str, typer.Argument()]) -> None:
    """Delete one attribute."""
    components = Components()
    components.accounts.require(user)
    components.store.delete(user, attribute_id)
    console.print(f"deleted {attribute_id}")


@app.command("export")
def export_(user: UserArg) -> None:
    """Print a person's profile as JSON (for `prefs import`)."""
    components = Components()
    components.accounts.require(user)
    _print_json(export_profile(components.store, user, components.styles))


@app.command("import")
def import_(
    file: Annotated[str, typer.Argument(help="A file from `prefs export`, or - for stdin.")],
) -> None:
    """Restore a profile from an export (creates the user if needed)."""
    raw = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"{file} is not JSON: {error.msg} (line {error.lineno})") from error
    user = parse_export(document).user_id  # validate before touching anything
    components = Components()
    components.accounts.ensure(user)
    profile = import_profile(components.store, document, components.styles)
    console.print(
        f"imported {len(profile.attributes)} attributes for {user} (version {profile.version})"
    )
