"""``tastemaker generate`` and ``tastemaker score``: render a prompt in a person's taste, and rate
images for that person."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.cli.generation_flags import with_setting_flags
from api.cli.generation_output import print_result, result_json
from api.cli.init_image import InitImageOpt, init_image_option
from api.cli.loras import LoraOpt, checked_library, lora_flags
from api.cli.profile_option import ProfileOpt, owner_of, profile_flag
from api.cli.references import NoStyleRefOpt, RefOpt, style_ref_options
from api.wiring.services import Components
from generation.blend_parts import blend_weights, parse_blend
from generation.errors import ClipMismatchError, GenerationError
from generation.options import MODE_HELP, RequestMode, palp_from, settings_from
from generation.request import GenerationRequest
from generation.settings import check_prompt

if TYPE_CHECKING:
    from api.cli.from_png import FromPng
    from api.settings import Settings

PROMPT_FIELDS = GenerationRequest.model_fields

# torch, diffusers and the generation modules load inside the commands that use them, so the
# other `tastemaker` commands start without them.

console = Console(highlight=False, soft_wrap=True)  # paths stay whole, copyable
err = Console(stderr=True, highlight=False)

UserOpt = Annotated[str, typer.Option("--user", "-u", help="Whose taste to follow.")]
SingleFileConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--single-file-config",
        metavar="DIR",
        help="Diffusers config folder of a single-file checkpoint's family (offline); "
        "default: TASTEMAKER_SINGLE_FILE_CONFIG.",
    ),
]
ClipModelOpt = Annotated[
    str | None,
    typer.Option(
        "--clip-model",
        help="CLIP model matching the text encoder; default: TASTEMAKER_CLIP_MODEL.",
    ),
]


def model_settings(
    components: Components, single_file_config: str | None, clip_model: str | None
) -> Settings:
    """The settings with the model-loading flags laid over them (a flag beats the setting)."""
    update = {"single_file_config": single_file_config, "clip_model": clip_model}
    return components.settings.model_copy(update={k: v for k, v in update.items() if v is not None})


def explain_model_error(error: GenerationError, model: str, settings: Settings) -> str:
    """The error, plus which setting and flag fix it (the generation layer knows neither)."""
    message = str(error)
    if Path(model).expanduser().is_file() and settings.single_file_config is None:
        message += (
            "; set TASTEMAKER_SINGLE_FILE_CONFIG or pass --single-file-config DIR (the diffusers "
            "config folder of the same model family)"
        )
    if isinstance(error, ClipMismatchError) and settings.clip_model is None:
        message += " (or pass --clip-model)"
    return message


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", soft_wrap=True)
    raise typer.Exit(1)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:40] or "image"


@with_setting_flags
def generate(
    prompt: Annotated[
        str | None,
        typer.Argument(help=PROMPT_FIELDS["prompt"].description + " (or --from-png)"),
    ] = None,
    *,
    user: UserOpt,
    profile_name: ProfileOpt = None,
    model: Annotated[
        str | None,
        typer.Option(help="Hub id, diffusers folder, .safetensors file, or 'tiny' (noise)."),
    ] = None,
    out: Annotated[
        Path,
        typer.Option(
            help="Folder the PNGs are written to, as PROMPT-SEED.png; a file already there is "
            "kept and the new one numbered PROMPT-SEED-2.png, -3…"
        ),
    ] = Path("outputs"),
    mode: Annotated[RequestMode, typer.Option(help=MODE_HELP)] = RequestMode.EMBEDS,
    negative_prompt: Annotated[
        str, typer.Option(help=PROMPT_FIELDS["negative_prompt"].description)
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    single_file_config: SingleFileConfigOpt = None,
    clip_model: ClipModelOpt = None,
    pull: Annotated[
        bool, typer.Option("--pull", help="Download a hub --model that is not cached yet.")
    ] = False,
    png: Annotated[
        Path | None,
        typer.Option(
            "--from-png",
            metavar="FILE",
            help="Make a PNG again: tastemaker's own (the same pixels on the same machine) or "
            "an A1111 one (prompt, negative, steps, sampler, CFG, seed, size); flags given "
            "win over the file's values.",
        ),
    ] = None,
    candidates: Annotated[
        int | None, typer.Option(help=PROMPT_FIELDS["candidates"].description)
    ] = None,
    context: typer.Context,
    ref: RefOpt = None,
    no_style_ref: NoStyleRefOpt = False,
    init_image: InitImageOpt = None,
    lora: LoraOpt = None,
    blend: Annotated[
        str | None,
        typer.Option(
            "--blend",
            metavar="NAME:W,...",
            help="Mix USER's profiles by weight, e.g. default:0.7,zines:0.3 (normalised).",
        ),
    ] = None,
    **options: Any,
) -> None:
    """Render PROMPT in USER's taste; writes PNGs that record what was applied."""
    # 1. Check every input before loading anything.
    pinned, keep, made_from = None, lambda sink: sink, None
    recorded: dict[str, str] | None = None  # a PNG's LoRA hashes, by name
    if png is not None and candidates is not None:
        _fail("--from-png makes one image again: leave --candidates out")
    if png is not None:
        recipe = _from_png(png, prompt, negative_prompt, mode, model, options, context)
        prompt, negative_prompt = recipe.prompt, recipe.negative_prompt
        mode, model = recipe.mode, recipe.model
        options, pinned, keep = recipe.options, recipe.profile_version, recipe.sink
        made_from = recipe.init_image
        recorded = recipe.lora_hashes
        _same_threads(recipe.torch_threads)
        blend = blend if blend is not None else recipe.blend  # a typed --blend wins
    if prompt is None:
        _fail("say what to draw: a PROMPT, or --from-png FILE")
    try:
        lora_paths = lora_flags(lora, options)  # typed: they win over a PNG's LoRAs
    except GenerationError as error:
        _fail(str(error))
    try:
        references = style_ref_options(ref, no_style_ref, options)
        init, notes = init_image_option(init_image, options.get("strength"), png, made_from)
    except ValueError as error:  # a --ref or --init-image file: said before any model loads
        _fail(str(error))
    for note in notes:
        err.print(f"[yellow]note:[/yellow] {note}", soft_wrap=True)
    try:
        weights = blend_weights(parse_blend(blend)) if blend is not None else None
        settings = settings_from(options, mode)
        prompt = check_prompt(prompt)
        negative_prompt = check_prompt(negative_prompt, what="negative prompt", allow_empty=True)
    except GenerationError as error:
        _fail(str(error))
    try:
        palp = palp_from(options, mode)
    except ValidationError as error:
        from api.errors import describe_validation_error

        _fail(describe_validation_error(error))
    try:
        request = GenerationRequest(
            prompt=prompt,
            negative_prompt=negative_prompt,
            settings=settings,
            palp=palp,
            profile_version=pinned,
            candidates=candidates,
            init_image=init.id if init else None,
        )
    except ValidationError as error:
        from api.errors import describe_validation_error

        _fail(describe_validation_error(error))
    components = Components()
    owner = owner_of(components, user, profile_name)
    try:  # every LoRA found and checked before the model loads
        loras, lora_notes = checked_library(
            components.settings, lora_paths, request.settings, recorded
        )
    except GenerationError as error:
        _fail(str(error))
    for note in lora_notes:
        err.print(f"[yellow]note:[/yellow] {note}", soft_wrap=True)
    if weights is not None:
        parts = [
            {"name": name, "owner": components.profiles.owner(user, name), "weight": weight}
            for name, weight in weights.items()
        ]
        try:
            request = GenerationRequest.model_validate({**request.model_dump(), "blend": parts})
        except ValidationError as error:
            from api.errors import describe_validation_error

            _fail(describe_validation_error(error))
    loading = model_settings(components, single_file_config, clip_model)
    model_name = model or loading.model
    _ensure_downloaded(model_name, pull)  # before torch loads: a missing model is said at once
    from api.wiring.generation import open_generator, open_models
    from api.wiring.taste import open_ranker
    from generation.palp_adapters import AdapterCache
    from generation.render import FLAT_TASTE_NOTE, file_sink, render_request
    from generation.tiny import TINY_NOTICE

    if model_name.startswith("tiny"):
        err.print(f"[yellow]note:[/yellow] {TINY_NOTICE}")

    # 2. Load the shared models (and the person's store).
    try:
        with err.status(f"loading {model_name}"):
            try:
                models = open_models(loading, model=model_name)
            except GenerationError as error:
                _fail(explain_model_error(error, model_name, loading))
            generator = open_generator(models)
            store = components.store

        # 3. Generate and write the PNGs (the same function the job workers call), with a
        #    progress bar over the denoising steps.
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as progress:
            training = palp.steps if palp is not None else 0
            phase = "PALP training" if training else "denoising"
            task = progress.add_task(phase, total=request.total_steps())

            def advance(done: int, _total: int) -> None:
                label = "PALP training" if done < training else "denoising"
                progress.update(task, completed=done, description=label)

            rendered = render_request(
                generator,
                store,
                owner,
                request,
                keep(
                    file_sink(
                        lambda _variant, _i, image_seed: out / f"{_slug(prompt)}-{image_seed}.png"
                    )
                ),
                on_step=advance,
                styles=components.styles,
                palp_cache=AdapterCache(
                    components.settings.palp_cache_dir,
                    max_bytes=components.settings.palp_cache_mb * 1024 * 1024,
                ),
                blobs=components.blobs,
                references=references,
                init_image=init.data if init else None,
                ranker=open_ranker(components, generator.clip) if candidates else None,
                loras=loras,
            )
    except GenerationError as error:
        _fail(str(error))

    # 4. Tell the person what was applied.
    result, paths = rendered.result, [Path(file) for file in rendered.files if file]
    if as_json:
        ranked = {"taste_matches": rendered.taste_matches} if candidates else {}
        flat = {"taste_note": FLAT_TASTE_NOTE} if rendered.taste_flat else {}
        sys.stdout.write(json.dumps(result_json(result, paths) | ranked | flat, indent=2) + "\n")
        return
    print_result(result, paths, rendered.taste_matches)
    who = f"rebuild {user}{profile_flag(profile_name)}"
    for note in result.plan.style_skipped:
        console.print(f"[yellow]note:[/yellow] {note.replace('rebuild USER', who)}")
    if rendered.taste_flat:
        console.print(f"[yellow]note:[/yellow] {FLAT_TASTE_NOTE}")
    if rendered.palp is not None:
        summary = rendered.palp.summary()
        how = "reused from the cache" if summary["cached"] else f"trained in {summary['seconds']}s"
        console.print(
            f"PALP adapter:   rank {summary['rank']}, {summary['steps']} steps, {how}; "
            f"[V] = {summary['token'] or summary['plain_word']}; "
            f"final losses {summary['final_losses'] or '-'}",
            soft_wrap=True,
        )


def _from_png(
    png: Path,
    prompt: str | None,
    negative: str,
    mode: RequestMode,
    model: str | None,
    options: dict[str, Any],
    context: typer.Context,
) -> FromPng:
    """The PNG's request with the typed flags over it; a one-line error when unreadable."""
    from api.cli.from_png import from_png, typed_flags

    try:
        recipe = from_png(
            png,
            prompt=prompt,
            negative_prompt=negative,
            mode=mode,
            model=model,
            options=options,
            typed_flag=typed_flags(context),
        )
    except GenerationError as error:
        _fail(str(error))
    for note in recipe.notes:
        err.print(f"[yellow]note:[/yellow] {note}", soft_wrap=True)
    return recipe


def _same_threads(recorded: int | None) -> None:
    """The PNG's torch thread count, so its pixels come out the same (api/wiring/threads.py)."""
    from api.wiring.services import load_settings
    from api.wiring.threads import use_recorded_threads

    if recorded is not None and use_recorded_threads(load_settings(), recorded):
        err.print(f"[yellow]note:[/yellow] using {recorded} torch threads, as the PNG was made")


def _ensure_downloaded(model: str, pull: bool) -> None:
    """A hub id not in the cache is downloaded only when asked (``--pull``)."""
    from api.cli.models import download
    from generation.hub import cached_snapshot, is_hub_id, pull_command

    if not is_hub_id(model) or cached_snapshot(model) is not None:
        return
    if not pull:
        _fail(
            f"{model} is not downloaded: run `{pull_command(model)}` first, or add --pull to "
            "download it now (several GB)"
        )
    download(model)


def register(app: typer.Typer) -> None:
    """Add ``generate``, ``score`` and the aesthetic-embedding import/export to the main app."""
    from api.cli.aesthetic import aesthetic_export, aesthetic_import
    from api.cli.score import score

    app.command("generate")(generate)
    app.command("score")(score)
    app.command("aesthetic-export")(aesthetic_export)
    app.command("aesthetic-import")(aesthetic_import)
