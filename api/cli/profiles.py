"""``tastemaker profiles``: a person's named profiles (a taste for work, another for zines).

Every person has the ``default`` profile; the others are created here and chosen with
``--profile NAME`` on ``onboard``, ``pick``, ``prefs``, ``style``, ``generate`` and ``score``
(docs/design.md, "Named profiles").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.cli.profile_option import ProfileOpt, named, owner_of
from api.cli.words import count
from api.wiring.services import Components

if TYPE_CHECKING:
    from generation.generator import PersonalizedGenerator
    from jobs.style import StyleTrainingRequest
    from preference_store.models import Profile
    from preference_store.styles import StyleRecord

app = typer.Typer(
    help="A person's named profiles: create, list, rename, delete, rebuild for a new model.",
    no_args_is_help=True,
)
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

UserArg = Annotated[str, typer.Argument(help="The person's user id.")]
NameArg = Annotated[str, typer.Argument(help="A profile name (letters, digits, '_', '-').")]


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", soft_wrap=True)
    raise typer.Exit(1)


@app.command("create")
def create(user: UserArg, names: Annotated[list[str], typer.Argument(help="New names.")]) -> None:
    """Create one or more empty profiles for USER."""
    from preference_store.profiles import check_name

    for name in names:  # every name checked before any is made
        check_name(name)
    components = Components()
    components.accounts.require(user)
    for name in names:
        components.profiles.create(user, name)
        console.print(f"created profile {name!r} for {user}")


@app.command("list")
def list_(user: UserArg) -> None:
    """USER's profiles: name, current version, attributes and style tokens."""
    from api.profiles import summaries

    components = Components()
    components.accounts.require(user)
    rows = summaries(components.profiles.named(user), components.history, components.styles)
    for row in rows:
        made = f"  created {row.created_at:%Y-%m-%d %H:%M}" if row.created_at else ""
        console.print(
            f"{row.name}  v{row.version}  {count(row.attribute_count, 'attribute')}  "
            f"{count(row.style_tokens, 'style token')}{made}"
        )


@app.command("rename")
def rename(user: UserArg, old: NameArg, new: NameArg) -> None:
    """Rename one of USER's profiles (not the default)."""
    components = Components()
    components.accounts.require(user)
    components.profiles.rename(user, old, new)
    console.print(f"renamed profile {old!r} of {user} to {new!r}")


@app.command("delete")
def delete(user: UserArg, name: NameArg) -> None:
    """Delete one of USER's profiles and everything in it (the default cannot be deleted)."""
    from api.profiles import forget_profile
    from preference_store.choices import ChoiceStore
    from preference_store.profiles import DEFAULT_PROFILE, ProfileRefused

    if name == DEFAULT_PROFILE:
        raise ProfileRefused("the default profile cannot be deleted")
    components = Components()
    components.accounts.require(user)
    components.profiles.owner(user, name)  # unknown: said before chromadb opens
    store = components.store
    forget_profile(store, components.styles, ChoiceStore(components.engine), user, name)
    console.print(f"deleted profile {name!r} of {user}")


@app.command("rebuild")
def rebuild(
    user: UserArg,
    model: Annotated[
        str, typer.Option(help="The new model: hub id, diffusers folder, .safetensors or 'tiny'.")
    ],
    profile_name: ProfileOpt = None,
    steps: Annotated[
        int | None,
        typer.Option(min=1, help="Training steps per token (default: as many as the old one)."),
    ] = None,
) -> None:
    """Make a profile's model-specific parts for MODEL from its text and images: the aesthetic
    embedding for MODEL's CLIP, the reference set for its IP-Adapter, and each style token
    learned again on the same images (the old ones stay, for their model)."""
    from api.wiring.generation import open_generator, open_models
    from generation.errors import GenerationError
    from generation.style_library import reaction_images
    from jobs.style import rebuild_embeddings, rebuild_request, rebuild_sources

    components = Components()
    owner = owner_of(components, user, profile_name)
    who = named(user, profile_name)
    profile = components.store.profile(owner)
    sources = rebuild_sources(components.styles, owner, model)
    plans = []
    for record in sources:  # every input checked before the model loads
        if not record.image_ids:
            console.print(f"{record.name} {record.id[:8]} was imported, not learned: skipped")
            continue
        request = rebuild_request(record, owner, steps)
        side = profile.disliked_images if record.negative else profile.liked_images
        images = [r for r in side if r.image_id in set(record.image_ids)]
        try:
            reaction_images(
                images, components.blobs, max_pixels=components.settings.max_input_pixels
            )
        except GenerationError as error:
            _fail(f"{record.name} {record.id[:8]} cannot be learned again: {error}")
        plans.append((record, request))
    try:
        with err.status(f"loading {model}"):
            generator = open_generator(open_models(components.settings, model=model))
        made = rebuild_embeddings(generator, components.store, profile, components.blobs)
        clip = made["aesthetic_clip"]
        console.print(
            f"aesthetic embedding for {clip}: made"
            if clip
            else "aesthetic embedding: none (no CLIP for this model, or no liked image with a file)"
        )
        refs = made["reference_images"]
        console.print(
            f"reference set: {count(refs, 'image')}"
            if refs is not None
            else "reference set: none (no IP-Adapter for this model, or no liked image)"
        )
        for record, request in plans:
            new = _learn(generator, profile, request, components, record.name)
            if new is None:
                _fail("stopped before the first step: nothing stored")
            console.print(
                f"{new.name} {new.id} for {new.model}: {new.status()} on the same "
                f"{count(len(new.image_ids), 'image')} as {record.id[:8]} ({record.model}, kept)"
            )
    except GenerationError as error:
        _fail(str(error))
    if not sources:
        console.print(f"{who} has no style token for another model to learn again")


def _learn(
    generator: PersonalizedGenerator,
    profile: Profile,
    request: StyleTrainingRequest,
    components: Components,
    name: str,
) -> StyleRecord | None:
    """One token learned again with the style-training job's own code, a progress bar and
    Ctrl-C (stops after the current step, keeping what was learned)."""
    from api.cli.style import StopOnInterrupt
    from jobs.style import profile_label, train_request

    with (
        Progress(
            TextColumn(f"learning {name} again"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as progress,
        StopOnInterrupt() as stop,
    ):
        task = progress.add_task("training", total=request.steps)
        trained = train_request(
            generator,
            profile,
            request,
            components.styles,
            progress=lambda step, _loss: progress.update(task, completed=step),
            should_stop=stop,
            blobs=components.blobs,
            label=profile_label(components.store, profile.user_id),
        )
    return trained.record
