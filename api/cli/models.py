"""``tastemaker models``: download a hub model on purpose and see what the cache holds.

A pipeline from the hub is several GB; it is fetched only when a person asks (``models pull``
or ``generate --pull``), never as a side effect of loading (``generation.hub``).
"""

from __future__ import annotations

import time
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from api.cli.words import count

app = typer.Typer(help="Models from the Hugging Face hub: download, list.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)  # paths stay whole, copyable
err = Console(stderr=True, highlight=False)


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", soft_wrap=True)
    raise typer.Exit(1)


def download(repo_id: str, variant: str | None = None) -> None:
    """Pull ``repo_id`` with the hub's progress bar and say where it went (also ``generate
    --pull``); a failure is one line and exit 1."""
    from tqdm.auto import tqdm

    from generation.errors import GenerationError
    from generation.hub import pull

    try:
        pulled = pull(repo_id, variant=variant, progress=tqdm)
    except GenerationError as error:
        _fail(str(error))
    console.print(f"{repo_id}: {count(pulled.files, 'file')} in {pulled.snapshot}")


@app.command("pull")
def pull_command(
    repo_id: Annotated[str, typer.Argument(metavar="ID", help="Hub id, owner/name.")],
    variant: Annotated[
        str | None, typer.Option(help="Weights variant, e.g. fp16 (half the download).")
    ] = None,
) -> None:
    """Download a pipeline or CLIP model from the hub into the local cache."""
    download(repo_id, variant)


@app.command("list")
def list_command() -> None:
    """The models in the local Hugging Face cache and their size on disk."""
    from generation.hub import cache_dir, list_cached

    models = list_cached()
    if not models:
        console.print(
            f"no models downloaded in {cache_dir()}; get one with `tastemaker models pull ID`"
        )
        return
    table = Table(title=f"models in {cache_dir()}", title_justify="left")
    for column in ("id", "kind", "size", "files", "last used"):
        table.add_column(column)
    for model in models:
        used = time.strftime("%Y-%m-%d", time.localtime(model.last_used))
        table.add_row(model.repo_id, model.kind, _size(model.size), str(model.files), used)
    console.print(table)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
