"""``tastemaker style``: learn, list, export, import and delete a person's style tokens."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.cli.ids import resolve_prefix
from api.cli.image_files import expand_images
from api.cli.profile_option import ProfileOpt, named, owner_of, profile_flag
from api.cli.words import count
from api.wiring.services import Components
from generation.errors import GenerationError
from preference_store.errors import StyleNotFound
from preference_store.styles import (
    DEFAULT_TRAINED_VECTORS,
    DEFAULT_TRAINING_LR,
    DEFAULT_TRAINING_STEPS,
    MAX_TRAINED_VECTORS,
    default_ids,
)

app = typer.Typer(
    help="Learned style tokens (textual inversion) of a person.", no_args_is_help=True
)
console = Console(highlight=False, soft_wrap=True)  # paths stay whole, copyable
err = Console(stderr=True, highlight=False)

UserOpt = Annotated[str, typer.Option("--user", "-u", help="Whose tokens.")]
ModelOpt = Annotated[
    str | None, typer.Option(help="Hub id, diffusers folder, .safetensors file, or 'tiny'.")
]


TokenIdArg = Annotated[str, typer.Argument(help="A token id, or any unique start of one.")]


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", soft_wrap=True)
    raise typer.Exit(1)


def _resolve(components: Components, user: str, prefix: str) -> str:
    """The full id of the user's token that ``prefix`` starts (AmbiguousId lists the matches)."""
    ids = (r.id for r in components.styles.list_tokens(user))
    found = resolve_prefix(prefix, ids, what="style token id")
    if found is None:
        raise StyleNotFound(prefix)
    return found


class StopOnInterrupt:
    """Ctrl-C asks training to stop after the current step (the vectors so far are kept)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: object = None

    def __enter__(self) -> StopOnInterrupt:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        if self.requested:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.requested = True
        err.print("[yellow]stopping after this step (Ctrl-C again to abort)…[/yellow]")

    def __exit__(self, *_exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]

    def __call__(self) -> bool:
        return self.requested


@app.command("train")
def train(
    user: UserOpt,
    model: ModelOpt = None,
    steps: Annotated[
        int, typer.Option(help="Most training steps (stops early on a plateau).")
    ] = DEFAULT_TRAINING_STEPS,
    vectors: Annotated[
        int, typer.Option(help=f"Vectors in the token (1–{MAX_TRAINED_VECTORS}).")
    ] = DEFAULT_TRAINED_VECTORS,
    lr: Annotated[float, typer.Option(help="AdamW learning rate.")] = DEFAULT_TRAINING_LR,
    negative: Annotated[
        bool, typer.Option("--negative", help="Learn from the disliked images instead.")
    ] = False,
    images: Annotated[
        list[Path] | None,
        typer.Option(
            "--images",
            help="Train on these files, folders or globs (a moodboard; several may follow one "
            "--images); kept as liked images.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the noise, timesteps and crops.")] = 0,
    more_images: Annotated[
        list[Path] | None,
        typer.Argument(metavar="[IMAGES]...", help="More moodboard files (as after --images)."),
    ] = None,
    profile_name: ProfileOpt = None,
) -> None:
    """Learn USER's style token from the images they liked (or disliked, with --negative)."""
    from generation.style_library import reaction_images, train_for_profile
    from generation.style_training import TrainingConfig
    from preference_store.models import ImageReaction

    # 1. Check everything a person typed before loading a model or storing anything.
    typed = [*(images or []), *(more_images or [])]
    if negative and typed:
        _fail("--images are recorded as liked images; --negative learns from the disliked ones")
    try:
        config = TrainingConfig(steps=steps, vectors=vectors, lr=lr, seed=seed).check()
        supplied = [
            ImageReaction(image_id=f"moodboard:{p.name}", path=str(p.resolve()), weight=1.0)
            for p in expand_images(typed)
        ]
    except GenerationError as error:
        _fail(str(error))
    from api.wiring.generation import open_models

    components = Components()
    max_pixels, blobs = components.settings.max_input_pixels, components.blobs
    try:  # count, size and readability, before a model loads or anything is stored
        if supplied:
            reaction_images(supplied, max_pixels=max_pixels)
    except GenerationError as error:
        _fail(str(error))
    owner = owner_of(components, user, profile_name)
    model_name = model or components.settings.model
    profile = components.store.profile(owner, with_aesthetic=False)
    try:
        if not supplied:  # the profile's own images: checked before the model loads
            reaction_images(
                profile.disliked_images if negative else profile.liked_images,
                components.blobs,
                max_pixels=max_pixels,
            )
        with err.status(f"loading {model_name}"):
            models = open_models(components.settings, model=model_name)
        if supplied:  # kept by content: the profile still opens them if the files move
            from api.wiring.kept_images import MOODBOARD_PREFIX, keep_by_content

            supplied = [
                r.model_copy(
                    update={"path": keep_by_content(blobs, Path(r.path), MOODBOARD_PREFIX)}
                )
                for r in supplied
                if r.path
            ]
            known = {r.image_id for r in profile.liked_images}
            liked = profile.liked_images + [r for r in supplied if r.image_id not in known]
            disliked = profile.disliked_images
            profile = components.store.set_images(owner, liked, disliked, reason="moodboard")
            chosen = {r.image_id for r in supplied}
            kept = [r for r in profile.liked_images if r.image_id in chosen]
            profile = profile.model_copy(update={"liked_images": kept})

        # 2. Train, with a progress bar of step and loss; Ctrl-C keeps what was learned.
        with (
            Progress(
                TextColumn("training"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            ) as progress,
            StopOnInterrupt() as stop,
        ):
            task = progress.add_task("training", total=config.steps, loss="-")
            trained = train_for_profile(
                models.pipeline,
                model=models.name,
                profile=profile,
                styles=components.styles,
                negative=negative,
                config=config,
                progress=lambda step, loss: progress.update(
                    task, completed=step, loss=f"{loss:.4f}"
                ),
                should_stop=stop,
                blobs=components.blobs,
                max_pixels=max_pixels,
                label=f"{user}-{profile_name}" if owner != user else None,
            )
    except GenerationError as error:
        _fail(str(error))

    # 3. Say what was stored.
    result, record = trained.result, trained.record
    if record is None:
        _fail("stopped before the first step: nothing stored")
    how = "early stop" if result.stopped_early else "done"
    ended = record.status() if record.cancelled else f"{result.steps} steps ({how})"
    console.print(
        f"{record.name} {record.id}: {ended}, {result.seconds:.1f}s, "
        f"loss {_mean(result.losses[:20]):.4f} → {_mean(result.losses[-20:]):.4f}, "
        f"init '{result.init_word}', {count(len(record.image_ids), 'image')}, "
        f"profile v{record.profile_version}, model {record.model}"
    )
    if record.cancelled:
        console.print(
            "kept, but not the default (a cancelled training never is): "
            f"`tastemaker style use {record.id[:8]} --user {user}{profile_flag(profile_name)}` "
            "to use it"
        )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


@app.command("list")
def list_(user: UserOpt, profile_name: ProfileOpt = None) -> None:
    """The person's tokens, newest first; "default" marks the one generation uses for each
    model (the newest finished training, or the one chosen with `style use`)."""
    components = Components()
    owner = owner_of(components, user, profile_name)
    records = components.styles.list_tokens(owner)
    if not records:
        console.print(
            f"{named(user, profile_name)} has no style tokens yet: `tastemaker style train "
            f"--user {user}{profile_flag(profile_name)}`"
        )
        return
    defaults = default_ids(records)
    for r in records:  # one line per token: readable, and greppable in scripts
        kind = ("negative" if r.negative else "positive") + f" ({r.source})"
        trained = f"profile v{r.profile_version}" if r.profile_version is not None else "-"
        mark = "  default" if r.id in defaults else ""
        console.print(
            f"{r.id}  {r.name}  {r.model}  {kind}  {trained}  {r.status()}  "
            f"{count(len(r.image_ids), 'image')}  {r.created_at:%Y-%m-%d %H:%M}{mark}",
            soft_wrap=True,
        )


@app.command("use")
def use(user: UserOpt, token_id: TokenIdArg, profile_name: ProfileOpt = None) -> None:
    """Make a token the default for its model (until another `use` or a newer training)."""
    components = Components()
    owner = owner_of(components, user, profile_name)
    record = components.styles.choose(owner, _resolve(components, owner, token_id))
    kind = "negative" if record.negative else "positive"
    console.print(
        f"{record.name} {record.id} ({record.status()}) is now the {kind} default "
        f"for {record.model}"
    )


@app.command("export")
def export(
    user: UserOpt,
    out: Annotated[Path, typer.Option(help="File to write (.safetensors, or .pt for A1111).")],
    fmt: Annotated[str, typer.Option("--format", help="diffusers or a1111.")] = "diffusers",
    token_id: Annotated[
        str | None,
        typer.Option("--id", help="Token id or a unique start of one (default: the default)."),
    ] = None,
    model: Annotated[str | None, typer.Option(help="The default token for this model.")] = None,
    negative: Annotated[bool, typer.Option("--negative", help="The negative token.")] = False,
    palp: Annotated[
        Path | None,
        typer.Option(
            "--palp",
            metavar="IMAGE",
            help="Export instead the PALP adapter that made IMAGE (a PNG from `generate --mode "
            "palp`) as a LoRA .safetensors that A1111 and ComfyUI load.",
        ),
    ] = None,
    profile_name: ProfileOpt = None,
) -> None:
    """Write a token as diffusers' learned_embeds.safetensors or an A1111 embedding (or, with
    --palp, a PALP adapter as a LoRA)."""
    from generation.style_formats import FORMATS, export_token, from_blob

    if palp is not None:
        _export_palp(user, palp, out)
        return

    if fmt not in FORMATS:
        _fail(f"--format must be one of {', '.join(FORMATS)}")
    if out.suffix not in (".safetensors", ".pt", ".bin"):
        _fail("--out must end in .safetensors, .pt or .bin")
    if fmt == "diffusers" and out.suffix == ".pt":
        _fail("diffusers token files are .safetensors or .bin")
    components = Components()
    owner = owner_of(components, user, profile_name)
    styles = components.styles
    if token_id is None:
        found = styles.latest(owner, model, negative=negative)
        if found is None:
            _fail(
                f"{named(user, profile_name)} has no default "
                f"{'negative ' if negative else ''}style token to export"
            )
        token_id = found[0].id
    record, blob = styles.get(owner, _resolve(components, owner, token_id))
    data = export_token(
        from_blob(blob), name=record.name, fmt=fmt, suffix=out.suffix, step=record.steps
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    console.print(f"wrote {out} ({fmt}, {record.name}, {record.id})")


def _export_palp(user: str, image: Path, out: Path) -> None:
    from api.cli.palp_export import export_palp

    components = Components()
    components.accounts.require(user)
    try:
        rank = export_palp(components.settings, image, out)
    except GenerationError as error:
        _fail(str(error))
    console.print(f"wrote {out} (LoRA, kohya naming, rank {rank}; use it as <lora:{out.stem}:1>)")


@app.command("import")
def import_(
    user: UserOpt,
    file: Annotated[Path, typer.Argument(help="A diffusers or A1111 token file.")],
    model: ModelOpt = None,
    negative: Annotated[bool, typer.Option("--negative", help="Use it as negative token.")] = False,
    profile_name: ProfileOpt = None,
) -> None:
    """Add a token file made by diffusers, A1111 or ComfyUI, checked against the model."""
    from api.wiring.generation import open_models
    from generation.style_library import import_token_file

    if not file.is_file():
        _fail(f"{file} is not a file")
    data = file.read_bytes()
    components = Components()
    owner = owner_of(components, user, profile_name)
    try:
        models = open_models(components.settings, model=model or components.settings.model)
        imported = import_token_file(
            models.pipeline,
            model=models.name,
            user_id=owner,
            data=data,
            filename=file.name,
            styles=components.styles,
            negative=negative,
        )
    except GenerationError as error:
        _fail(str(error))
    record = imported.record
    if not imported.added:
        console.print(f"already there: {record.name} {record.id} for {record.model}")
        return
    console.print(f"imported {record.name} as {record.id} for {record.model}")


@app.command("delete")
def delete(user: UserOpt, token_id: TokenIdArg, profile_name: ProfileOpt = None) -> None:
    """Forget one token."""
    components = Components()
    owner = owner_of(components, user, profile_name)
    full_id = _resolve(components, owner, token_id)
    components.styles.delete(owner, full_id)
    console.print(f"deleted {full_id}")
