"""``tastemaker prefs``: see, search, edit, export and import what tastemaker believes."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from api.cli import prefs_images, prefs_presets
from api.cli.ids import resolve_prefix
from api.cli.profile_option import ProfileOpt, named, owner_of
from api.cli.users import CreateOpt, user_for_writing
from api.cli.words import count
from api.wiring.services import Components
from preference_store.errors import AttributeNotFound
from preference_store.models import (
    MAX_VERSION,
    AttributeDraft,
    Category,
    Polarity,
    Profile,
    VisualAttribute,
)

if TYPE_CHECKING:
    from preference_store.versions import ProfileDiff

# Reading commands (show, versions, diff) read the relational database only; the embedding
# model loads in the commands that embed (add, search, restore, import).

app = typer.Typer(help="See and edit a person's preferences.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)  # paths stay whole, copyable

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
    create: CreateOpt = False,
    profile_name: ProfileOpt = None,
) -> None:
    """Add a liked or disliked attribute (a new user needs --create, except the very first)."""
    components = Components()
    draft = AttributeDraft(
        text=text,
        category=category or Category.OTHER,
        polarity=polarity,
        strength=strength,
        source="cli",
    )
    user_for_writing(components.accounts, user, create=create)
    owner = components.profiles.owner(user, profile_name)
    if category is None:
        from preference_store.categories import CategoryGuesser

        guessed = CategoryGuesser(components.embedder).guess(draft.text)
        draft = draft.model_copy(update={"category": guessed})
    change = f"prefs add: {polarity.value} {draft.text}"  # `prefs versions` shows words, not ids
    (stored,) = components.store.add(owner, [draft], reason=change)
    console.print(
        f"{stored.polarity.value} [bold]{stored.text}[/] ({stored.category.value}, "
        f"strength {stored.strength:.2f}) id {stored.id}",
        soft_wrap=True,
    )


VersionOpt = Annotated[
    int | None,
    typer.Option(
        "--version", min=1, max=MAX_VERSION, help="A past version (see `prefs versions`)."
    ),
]


def _profile(
    components: Components, user: str, profile_name: str | None, version: int | None
) -> Profile:
    """The current profile, or a past version, straight from the version log; attributes
    strongest first, as the store lists them."""
    owner = owner_of(components, user, profile_name)
    history = components.history
    if version is not None:
        profile = history.get(owner, version)
    else:
        profile = history.latest(owner) or Profile(user_id=owner)
    ranked = sorted(profile.attributes, key=lambda a: (-a.strength, a.text))
    return profile.model_copy(update={"attributes": ranked})


@app.command()
def show(
    user: UserArg,
    as_json: JsonOpt = False,
    version: VersionOpt = None,
    profile_name: ProfileOpt = None,
) -> None:
    """List a person's attributes grouped by category and polarity."""
    profile = _profile(Components(), user, profile_name, version)
    if as_json:
        _print_json([_attribute_json(a) for a in profile.attributes])
        return
    rows = [
        (attribute, None)
        for by_polarity in profile.grouped().values()
        for attributes in by_polarity.values()
        for attribute in attributes
    ]
    current = "" if version is None else " (a past version: `prefs restore` brings it back)"
    title = f"{named(user, profile_name)} — profile version {profile.version}{current}"
    console.print(_table(title, rows))
    if not rows:
        console.print("No attributes yet: `tastemaker prefs add` or `tastemaker onboard`.")


@app.command()
def search(
    user: UserArg,
    query: Annotated[str, typer.Argument(help="What to look for, in any words.")],
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    as_json: JsonOpt = False,
    profile_name: ProfileOpt = None,
) -> None:
    """Find a person's attributes by meaning, most relevant first."""
    components = Components()
    owner = owner_of(components, user, profile_name)
    hits = components.store.search(owner, query, limit=limit)
    if as_json:
        _print_json([_attribute_json(h.attribute, score=h.score) for h in hits])
        return
    console.print(
        _table(f"{named(user, profile_name)} — {query!r}", [(h.attribute, h.score) for h in hits])
    )


def resolve_attribute_id(components: Components, user: str, prefix: str) -> str:
    """The full id of the user's attribute that ``prefix`` starts (ids print shortened)."""
    profile = components.history.latest(user) or Profile(user_id=user)
    found = resolve_prefix(prefix, (a.id for a in profile.attributes), what="attribute id")
    if found is None:
        raise AttributeNotFound(prefix)
    return found


@app.command()
def delete(
    user: UserArg,
    attribute_id: Annotated[str, typer.Argument(help="An id, or any unique start of one.")],
    profile_name: ProfileOpt = None,
) -> None:
    """Delete one attribute."""
    components = Components()
    owner = owner_of(components, user, profile_name)
    full_id = resolve_attribute_id(components, owner, attribute_id)
    components.store.delete(owner, full_id)
    console.print(f"deleted {full_id}")


@app.command("export")
def export_(
    user: UserArg,
    profile_name: ProfileOpt = None,
    fmt: Annotated[
        str, typer.Option("--format", help=f"One of {', '.join(prefs_presets.EXPORT_FORMATS)}.")
    ] = prefs_presets.PROFILE_FORMAT,
    out: Annotated[Path | None, typer.Option(help="Write here (bundle: a folder).")] = None,
) -> None:
    """Print a person's profile as JSON (for `prefs import`), or as a preset for A1111
    (appended to --out styles.csv), Fooocus or InvokeAI, or a folder bundle."""
    from preference_store.choices import ChoiceStore
    from preference_store.transfer import export_profile

    prefs_presets.check_format(fmt, out)
    components = Components()
    owner = owner_of(components, user, profile_name)
    if fmt != prefs_presets.PROFILE_FORMAT:
        done = prefs_presets.export_presets(components, owner, fmt, out)
        if isinstance(done, bytes):
            sys.stdout.write(done.decode("utf-8"))
        else:
            console.print(done)
        return
    taste = ChoiceStore(components.engine)
    document = export_profile(components.store, owner, components.styles, taste)
    if out is None:
        _print_json(document)
        return
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    prefs_presets.write_file(text.encode("utf-8"), out)
    console.print(f"wrote {out}")


@app.command("import")
def import_(
    file: Annotated[str, typer.Argument(help="A file from `prefs export`, or - for stdin.")],
    profile_name: Annotated[
        str | None,
        typer.Option(
            "--profile",
            metavar="NAME",
            help="Import one profile's document into this profile of its user (made if "
            "missing); without it the document's profiles are all restored.",
        ),
    ] = None,
) -> None:
    """Restore a person's profiles from an export (creates the user if needed)."""
    from preference_store.choices import ChoiceStore
    from preference_store.transfer import PROFILE, PROFILES, check_import, import_person

    raw = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"{file} is not JSON: {error.msg} (line {error.lineno})") from error
    except RecursionError:
        raise ValueError(f"{file} nests JSON too deeply to be a profile export") from None
    if not isinstance(document, dict):
        raise ValueError(f"{file} is not a profile export (a JSON object)")
    if profile_name is not None:
        if document.get(PROFILES):
            raise ValueError("this export holds several profiles: import it without --profile")
        document = {**document, PROFILE: profile_name}
    user = check_import(document).profile.user_id  # everything checked before anything written
    components = Components()
    components.accounts.ensure(user)
    taste = ChoiceStore(components.engine)
    profile = import_person(components.store, document, components.styles, taste)
    extra = len(document.get(PROFILES) or {})
    also = f", and {count(extra, 'named profile')}" if extra else ""
    console.print(
        f"imported {count(len(profile.attributes), 'attribute')} for "
        f"{named(user, document.get(PROFILE))} (version {profile.version}){also}"
    )


@app.command()
def versions(user: UserArg, profile_name: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """List a person's profile versions, oldest first: what changed and when."""
    components = Components()
    owner = owner_of(components, user, profile_name)
    history = components.history.list(owner)
    if as_json:
        _print_json([info.model_dump(mode="json") for info in history])
        return
    table = Table(title=f"{named(user, profile_name)} — profile versions", title_justify="left")
    for column in ("version", "when (UTC)", "attributes", "change"):
        table.add_column(column)
    for info in history:
        when = info.created_at.strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(str(info.version), when, str(info.attribute_count), info.reason)
    console.print(table)
    if not history:
        console.print("No versions yet: `tastemaker prefs add` or `tastemaker onboard`.")


@app.command()
def diff(
    user: UserArg,
    old: Annotated[
        int, typer.Argument(min=0, max=MAX_VERSION, help="The older version (0: empty).")
    ],
    new: Annotated[
        int | None,
        typer.Argument(min=1, max=MAX_VERSION, help="The newer version; current if left out."),
    ] = None,
    as_json: JsonOpt = False,
    profile_name: ProfileOpt = None,
) -> None:
    """Show what changed between two versions of a person's profile."""
    from preference_store.versions import diff_profiles

    components = Components()
    after = _profile(components, user, profile_name, new)
    before = (
        Profile(user_id=after.user_id)
        if old == 0
        else _profile(components, user, profile_name, old)
    )
    changes = diff_profiles(before, after)
    if as_json:
        _print_json(changes.model_dump(mode="json"))
        return
    _print_diff(changes, named(user, profile_name))


def _print_diff(changes: ProfileDiff, who: str) -> None:
    console.print(f"{who}: version {changes.from_version} → {changes.to_version}")
    for attribute in changes.added:
        console.print(f"[green]+ {_describe(attribute)}[/]")
    for attribute in changes.removed:
        console.print(f"[red]- {_describe(attribute)}[/]")
    for change in changes.changed:
        parts = [
            f"{f} {getattr(change.before, f)} → {getattr(change.after, f)}" for f in change.fields
        ]
        console.print(
            f"[yellow]~ {change.after.text}[/] ({'; '.join(parts)}) {change.after.id[:12]}"
        )
    for label, images in (
        ("+ liked image", changes.liked_images_added),
        ("- liked image", changes.liked_images_removed),
        ("+ disliked image", changes.disliked_images_added),
        ("- disliked image", changes.disliked_images_removed),
    ):
        for image in images:
            console.print(f"{label} {image}")
    if changes.empty:
        console.print("no differences")


def _describe(attribute: VisualAttribute) -> str:
    return (
        f"{attribute.polarity.value} {attribute.text} ({attribute.category.value}, "
        f"strength {attribute.strength:.2f}) {attribute.id[:12]}"
    )


@app.command()
def restore(
    user: UserArg,
    version: Annotated[
        int, typer.Argument(min=1, max=MAX_VERSION, help="The version to bring back.")
    ],
    profile_name: ProfileOpt = None,
) -> None:
    """Make a past version current again, as a new version (history is never rewritten)."""
    components = Components()
    owner = owner_of(components, user, profile_name)
    store = components.store
    restored = store.restore(store.profile_at(owner, version), reason=f"restore version {version}")
    console.print(
        f"restored version {version} of {named(user, profile_name)} as version {restored.version} "
        f"({count(len(restored.attributes), 'attribute')})"
    )


app.command("images")(prefs_images.images)
