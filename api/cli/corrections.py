"""``tastemaker corrections export``: what people corrected, as labelled extraction cases.

Every comment a person corrected becomes one JSON line in the evaluation format of
``tests/data/extraction_eval.jsonl``: the corrected attributes are the labels, so a maintainer can
review the file, add good cases to the test data, and score an extractor on it
(``agent.evaluation``; ``bench/extraction.py --cases FILE``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from api.wiring.services import Components

app = typer.Typer(help="Corrections people made to what was understood.", no_args_is_help=True)
console = Console(highlight=False, stderr=True, soft_wrap=True)


@app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="The JSONL file to write.")],
) -> None:
    """Write every corrected comment as a labelled case (no user ids) to --out."""
    from agent.corrections import labelled_case
    from agent.sessions import SessionRepository

    components = Components()
    from api.wiring.agent import build_gallery  # langchain loads only for the commands using it

    gallery = build_gallery(components.settings)
    corrected = SessionRepository(components.engine).corrected_messages()
    lines = []
    for message, stored in corrected:
        known = gallery.find(message.image_id) if message.image_id else None
        context = gallery.context(known.id) if known is not None else None
        image = context.model_copy(update={"path": None, "image_id": None}) if context else None
        lines.append(json.dumps(labelled_case(message, stored, image), ensure_ascii=False))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    console.print(f"wrote {len(lines)} corrected comments to {out}")
