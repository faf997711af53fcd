"""``tastemaker generate`` and ``tastemaker score``: render a prompt in a person's taste, and rate
images for that person."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.wiring import Components
from generation.errors import GenerationError
from generation.settings import ConditioningMode, GenerationSettings, check_prompt

if TYPE_CHECKING:
    from generation.generator import GenerationResult

# torch, diffusers and the generation modules load inside the commands that use them, so the
# other `tastemaker` commands start without them.

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

UserOpt = Annotated[str, typer.Option("--user", "-u", help="Whose taste to follow.")]


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", soft_wrap=True)
    raise typer.Exit(1)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:40] or "image"


def generate(
    prompt: Annotated[str, typer.Argument(help="What to draw.")],
    user: UserOpt,
    model: Annotated[
        str | None,
        typer.Option(help="Hub id, diffusers folder, .safetensors file, or 'tiny' (noise)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder the PNGs are written to.")] = Path("outputs"),
    vp_degree: Annotated[float, typer.Option(help="ViPer's β: weight of the attributes.")] = 0.85,
    aesthetic_steps: Annotated[int, typer.Option(help="Aesthetic-gradient steps (0: off).")] = 5,
    aesthetic_lr: Annotated[float, typer.Option(help="Aesthetic-gradient learning rate.")] = 1e-4,
    mode: Annotated[
        ConditioningMode, typer.Option(help="embeds: free; guidance: extra UNet pass (~2×).")
    ] = ConditioningMode.EMBEDS,
    steps: Annotated[int, typer.Option(help="Denoising steps.")] = 30,
    guidance_scale: Annotated[float, typer.Option(help="Classifier-free guidance scale.")] = 5.0,
    seed: Annotated[int | None, typer.Option(help="Seed (random when left out).")] = None,
    width: Annotated[
        int | None, typer.Option(help="Multiple of 8; the model's native width if left out.")
    ] = None,
    height: Annotated[
        int | None, typer.Option(help="Multiple of 8; the model's native height if left out.")
    ] = None,
    num_images: Annotated[int, typer.Option(help="Images to make (seeds seed, seed+1, ...).")] = 1,
    negative_prompt: Annotated[str, typer.Option(help="What to steer away from.")] = "",
    style_weight: Annotated[
        float, typer.Option(help="Weight of USER's learned style token (0: off).")
    ] = 1.0,
    negative_style_weight: Annotated[
        float, typer.Option(help="Weight of USER's learned negative token (0: off).")
    ] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Render PROMPT in USER's taste; writes PNGs that record what was applied."""
    # 1. Check every input before loading anything.
    try:
        settings = GenerationSettings.checked(
            steps=steps,
            guidance_scale=guidance_scale,
            width=width,
            height=height,
            num_images=num_images,
            seed=seed,
            mode=mode,
            vp_degree=vp_degree,
            aesthetic_steps=aesthetic_steps,
            aesthetic_lr=aesthetic_lr,
            style_weight=style_weight,
            negative_style_weight=negative_style_weight,
        )
        prompt = check_prompt(prompt)
        negative_prompt = check_prompt(negative_prompt, what="negative prompt", allow_empty=True)
    except GenerationError as error:
        _fail(str(error))
    from api.generation_wiring import ensure_aesthetic_embedding, open_generator, open_models
    from generation.png import save_png
    from generation.style_library import tokens_for
    from generation.tiny import TINY_NOTICE

    components = Components()
    components.accounts.require(user)
    model_name = model or components.settings.model
    if model_name.startswith("tiny"):
        err.print(f"[yellow]note:[/yellow] {TINY_NOTICE}")

    # 2. Load the shared models and the person's profile.
    try:
        with err.status(f"loading {model_name}"):
            models = open_models(components.settings, model=model_name)
            generator = open_generator(models)
            profile = components.store.profile(user)
            profile = ensure_aesthetic_embedding(components.store, profile, models.clip)
            style, negative_style = tokens_for(components.styles, user, models.name)

        # 3. Generate, with a progress bar over the denoising steps.
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as progress:
            task = progress.add_task("denoising", total=settings.steps)
            result = generator(
                prompt,
                profile,
                settings=settings,
                negative_prompt=negative_prompt,
                on_step=lambda done, _total: progress.update(task, completed=done),
                style=style,
                negative_style=negative_style,
            )
    except GenerationError as error:
        _fail(str(error))

    # 4. Write the PNGs with their provenance and tell the person what was applied.
    paths = []
    for index, image in enumerate(result.images):
        name = f"{_slug(prompt)}-{result.seed + index}.png"
        paths.append(save_png(image, out / name, result.metadata(index)))
    if as_json:
        sys.stdout.write(json.dumps(_result_json(result, paths), indent=2) + "\n")
        return
    _print_result(result, paths)


def _result_json(result: GenerationResult, paths: list[Path]) -> dict[str, object]:
    return {
        "files": [str(p) for p in paths],
        "seed": result.seed,
        "model": result.model,
        "settings": result.settings.model_dump(mode="json"),
        "plan": result.plan.model_dump(mode="json"),
        "aesthetic": asdict(result.aesthetic),
        "timings": result.timings,
    }


def _print_result(result: GenerationResult, paths: list[Path]) -> None:
    plan = result.plan
    table = Table(title="what tastemaker applied", title_justify="left")
    for column in ("", "attribute", "strength", "why"):
        table.add_column(column)
    for decision in plan.decisions:
        sign = "+" if decision.polarity.value == "like" else "-"
        mark = f"[green]{sign} used[/]" if decision.used else f"[dim]{sign} dropped[/]"
        table.add_row(mark, decision.text, f"{decision.strength:.2f}", decision.reason)
    if plan.decisions:
        console.print(table)
    else:
        console.print("no attributes in this profile yet: the image follows the prompt only")
    console.print(f"liked (VP+):    {plan.positive_text or '-'}  [{plan.positive_tokens} tokens]")
    console.print(f"disliked (VP−): {plan.negative_text or '-'}  [{plan.negative_tokens} tokens]")
    console.print(f"aesthetic:      {result.aesthetic.note}")
    weights = result.settings
    console.print(
        f"style token:    {plan.style_token or '-'}"
        + (f"  [weight {weights.style_weight:g}]" if plan.style_token else "")
    )
    console.print(
        f"negative token: {plan.negative_style_token or '-'}"
        + (f"  [weight {weights.negative_style_weight:g}]" if plan.negative_style_token else "")
    )
    timings = ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items())
    console.print(f"seed {result.seed}; {timings}")
    for path in paths:
        console.print(f"wrote {path}")


def score(
    images: Annotated[list[Path], typer.Argument(help="Image files to score.")],
    user: UserOpt,
    model: Annotated[
        str | None, typer.Option(help="Pipeline whose CLIP to use ('tiny' uses the tiny CLIP).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print a preference score in [0, 1] per image for USER (0.5: indifferent)."""
    from PIL import Image, UnidentifiedImageError

    from api.generation_wiring import ensure_aesthetic_embedding, open_clip
    from generation.scoring import PreferenceScorer

    opened = []
    for path in images:
        try:
            with Image.open(path) as image:
                opened.append(image.convert("RGB"))
        except (OSError, UnidentifiedImageError) as error:
            _fail(f"cannot read image {path}: {error}")
    components = Components()
    components.accounts.require(user)
    try:
        clip = open_clip(components.settings, model=model)
        profile = ensure_aesthetic_embedding(components.store, components.store.profile(user), clip)
        scores = PreferenceScorer(clip).score(opened, profile)
    except GenerationError as error:
        _fail(str(error))
    if as_json:
        rows = [{"image": str(p), **s.model_dump()} for p, s in zip(images, scores, strict=True)]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    for path, result in zip(images, scores, strict=True):
        console.print(f"{result.score:.3f}  {path}")


def _clip_name(model: str | None, clip: str | None) -> str:
    from generation.tiny import TINY_CLIP_NAME

    settings = Components().settings
    name = clip or settings.clip_model
    if name is None and (model or settings.model).startswith("tiny"):
        name = TINY_CLIP_NAME
    if name is None:
        _fail("say which CLIP model the embedding belongs to: --clip or TASTEMAKER_CLIP_MODEL")
    return name


ClipOpt = Annotated[
    str | None, typer.Option(help="CLIP model the embedding belongs to (default: the setting).")
]


def aesthetic_export(
    user: UserOpt,
    path: Annotated[Path, typer.Argument(help="Where to write the .pt file.")],
    clip: ClipOpt = None,
    model: Annotated[str | None, typer.Option(help="'tiny' selects the tiny CLIP.")] = None,
) -> None:
    """Write USER's aesthetic embedding in the A1111 aesthetic-gradients .pt format."""
    import torch

    from generation.aesthetic import save_a1111_embedding

    name = _clip_name(model, clip)
    components = Components()
    components.accounts.require(user)
    profile = components.store.profile(user)
    vector = profile.aesthetic_embeddings.get(name)
    if vector is None:
        _fail(
            f"{user} has no aesthetic embedding for {name} at profile version {profile.version} "
            "yet (it is made at the first generation or score)"
        )
    save_a1111_embedding(torch.tensor(vector), path)
    console.print(f"wrote {path} ({len(vector)}-d, {name}, profile version {profile.version})")


def aesthetic_import(
    user: UserOpt,
    path: Annotated[Path, typer.Argument(help="An A1111 aesthetic embedding .pt file.")],
    clip: ClipOpt = None,
    model: Annotated[str | None, typer.Option(help="'tiny' selects the tiny CLIP.")] = None,
) -> None:
    """Use an A1111 aesthetic embedding as USER's, for their current profile version."""
    from generation.aesthetic import load_a1111_embedding

    name = _clip_name(model, clip)
    try:
        vector = load_a1111_embedding(path)
    except GenerationError as error:
        _fail(str(error))
    components = Components()
    components.accounts.require(user)
    profile = components.store.profile(user)
    values = [float(x) for x in vector]
    components.store.put_aesthetic_embedding(user, profile.version, name, values)
    console.print(
        f"imported a {len(values)}-d aesthetic embedding for {user} ({name}, "
        f"profile version {profile.version})"
    )


def register(app: typer.Typer) -> None:
    """Add ``generate``, ``score`` and the aesthetic-embedding import/export to the main app."""
    app.command("generate")(generate)
    app.command("score")(score)
    app.command("aesthetic-export")(aesthetic_export)
    app.command("aesthetic-import")(aesthetic_import)
