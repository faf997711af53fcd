"""``tastemaker onboard``, ``tastemaker extract`` and ``tastemaker gallery build``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from api.cli.generate import SingleFileConfigOpt, explain_model_error, model_settings
from api.cli.profile_option import ProfileOpt, profile_flag
from api.cli.users import CreateOpt, user_for_writing
from api.cli.words import count
from api.wiring.services import Components
from generation.settings import MAX_DENOISING_STEPS, MAX_SIDE, MIN_SIDE, GenerationSettings

if TYPE_CHECKING:
    from agent.extraction import Extraction

# The agent package (its SQLAlchemy tables, ~0.2 s) loads inside the commands: `--help` and the
# other commands start without it (bench/cli.py).

console = Console(highlight=False, soft_wrap=True)  # paths stay whole, copyable
STEPS = GenerationSettings.model_fields["steps"]  # the gallery renders with the default
# Spinners for waits that may pass a second (the text model's first load, a cold vocabulary
# cache): on stderr, so stdout stays the chat or the JSON; shown only on a terminal.
waiting = Console(stderr=True)
_ATTRIBUTE_FIELDS = {"text", "category", "polarity", "strength", "evidence"}
gallery_app = typer.Typer(help="Onboarding galleries.", no_args_is_help=True)


def _extraction_json(extraction: Extraction) -> dict[str, Any]:
    return {
        "attributes": [
            a.model_dump(mode="json", include=_ATTRIBUTE_FIELDS) for a in extraction.attributes
        ],
        "unsure": [
            {
                "text": u.attribute.text,
                "category": u.attribute.category.value,
                "question": u.question,
                "evidence": u.attribute.evidence,
            }
            for u in extraction.unsure
        ],
        "overall": extraction.overall.value if extraction.overall else None,
        "vague": extraction.vague,
        "no_opinion": extraction.no_opinion,
        "extractor": extraction.extractor,
        "fallback": extraction.fallback_reason is not None,
        "notes": extraction.notes,
    }


def onboard(
    user: Annotated[str, typer.Argument(help="The person's user id.")],
    profile_name: ProfileOpt = None,
    gallery: Annotated[
        Path | None, typer.Option("--gallery", help="A gallery folder with manifest.json.")
    ] = None,
    new: Annotated[bool, typer.Option("--new", help="Start over instead of resuming.")] = False,
    create: CreateOpt = False,
) -> None:
    """Chat about sample images until tastemaker knows your taste (type 'done' to finish)."""
    from agent.extraction import InvalidComment
    from api.wiring.agent import build_agent  # langchain loads only for the commands using it

    components = Components()
    user_for_writing(components.accounts, user, create=create)
    owner = components.profiles.owner(user, profile_name)

    with waiting.status("getting the first image ready…"):
        agent = build_agent(components, gallery)
        session_id = None if new else agent.active_session(owner)
        turn = agent.resume(session_id) if session_id else agent.start(owner)
    while True:
        console.print(f"[bold cyan]tastemaker:[/] {turn.text}")
        if turn.image is not None and turn.image.description not in turn.text:
            # a correction or a question on the same image: say which one it still is
            console.print(f"  [dim]still on:[/] {turn.image.description}")
        if turn.image_path is not None:
            console.print(f"  [dim]image:[/] {turn.image_path}")
        if turn.finished:
            console.print(f"See it with: tastemaker prefs show {user}{profile_flag(profile_name)}")
            return
        line = sys.stdin.readline()
        if not line:  # end of input: the session stays open and resumes next time
            console.print("[dim](session saved; run the same command to continue)[/]")
            return
        if not line.strip():
            continue
        try:
            with waiting.status("reading…"):
                turn = agent.reply(turn.session_id, line.rstrip("\n"))
        except InvalidComment as error:
            console.print(f"[yellow]{error}[/]")


def extract(
    comment: Annotated[str | None, typer.Argument(help="The comment to read.")] = None,
    image_description: Annotated[
        str | None, typer.Option("--image-description", help="What the image shows.")
    ] = None,
    jsonl: Annotated[
        bool,
        typer.Option("--jsonl", help='Read {"comment": ..., "image_description": ...} lines.'),
    ] = False,
) -> None:
    """Print the liked and disliked attributes in a comment, as JSON; what the reader is unsure
    of is listed apart ("unsure"), never among the attributes."""
    if comment is None and not jsonl:
        raise typer.BadParameter("give a COMMENT, or --jsonl to read comments from stdin")
    from agent.extraction import ImageContext, InvalidComment
    from api.wiring.agent import build_extractor

    components = Components()

    with waiting.status("loading the vocabulary…"):
        extractor = build_extractor(components.settings, components.embedder)
    if not jsonl:
        image = ImageContext(description=image_description) if image_description else None
        with waiting.status("reading…"):
            result = extractor.extract(str(comment), image)
        sys.stdout.write(json.dumps(_extraction_json(result), ensure_ascii=False) + "\n")
        for item in result.unsure:  # for the person reading along (stdout stays JSON)
            sys.stderr.write(f"unsure: {item.attribute.text} — liked or disliked?\n")
        return
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            try:
                item = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"not a JSON object ({error.msg})") from error
            if not isinstance(item, dict) or not isinstance(item.get("comment"), str):
                raise ValueError('each line must be {"comment": "...", "image_description": "..."}')
            description = item.get("image_description")
            image = ImageContext(description=description) if description else None
            output = _extraction_json(extractor.extract(item["comment"], image))
        except (ValueError, InvalidComment) as error:
            output = {"error": f"line {number}: {error}"}
        sys.stdout.write(json.dumps(output, ensure_ascii=False) + "\n")
        sys.stdout.flush()


@gallery_app.command("build")
def gallery_build(
    model: Annotated[
        str, typer.Option("--model", help="Hub id, diffusers folder, .safetensors file or tiny.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder to write images and manifest.")],
    steps: Annotated[int, typer.Option(min=1, max=MAX_DENOISING_STEPS)] = STEPS.default,
    size: Annotated[
        int | None,
        typer.Option(
            min=MIN_SIDE, max=MAX_SIDE, help="Square side; the model's native size if left out."
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N prompts.")] = None,
    single_file_config: SingleFileConfigOpt = None,
) -> None:
    """Render a gallery from the shipped style-diverse prompts with a Stable Diffusion model."""
    from agent.gallery_build import build_gallery, diffusers_renderer, shipped_prompts
    from generation.errors import GenerationError
    from generation.loading import load_models
    from generation.tiny import TINY_NOTICE

    settings = model_settings(Components(), single_file_config, None)
    try:
        models = load_models(
            model,
            device=settings.device,
            dtype=settings.dtype,
            single_file_config=settings.single_file_config,
        )
    except GenerationError as error:
        console.print(f"[red]error:[/red] {explain_model_error(error, model, settings)}")
        raise typer.Exit(1) from None
    render = diffusers_renderer(models.pipeline, steps=steps, size=size)
    items = shipped_prompts()[:limit] if limit else shipped_prompts()
    tiny = model.startswith("tiny")
    if tiny:
        console.print(f"[yellow]note:[/yellow] {TINY_NOTICE}")

    def describe(prompt: str) -> str:
        """What the image is; `tiny` makes noise whatever the prompt says."""
        if tiny:
            return f"noise from the offline test model 'tiny' (its prompt was: {prompt})"
        return f"rendered by {model} from the prompt: {prompt}"

    def progress(done: int, total: int) -> None:
        console.print(f"rendered {done}/{total}")

    gallery = build_gallery(
        render, out, items, name=f"{model} gallery", progress=progress, describe=describe
    )
    console.print(f"wrote {count(len(gallery), 'image')} and {out / 'manifest.json'}")


def register(app: typer.Typer) -> None:
    """Add ``onboard``, ``extract`` and ``gallery build`` to the main app."""
    app.command("onboard")(onboard)
    app.command("extract")(extract)
    app.add_typer(gallery_app, name="gallery")
