"""What ``tastemaker generate`` prints: the plan applied, the timings, and the JSON form."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from api.cli.references import describe_references

if TYPE_CHECKING:
    from generation.result import GenerationResult

console = Console(highlight=False, soft_wrap=True)  # paths stay whole, copyable


def result_json(result: GenerationResult, paths: list[Path]) -> dict[str, object]:
    return {
        "files": [str(p) for p in paths],
        "seed": result.seed,
        "model": result.model,
        "settings": result.settings.model_dump(mode="json"),
        "plan": result.plan.model_dump(mode="json"),
        "aesthetic": asdict(result.aesthetic),
        "style_refs": result.style_refs,
        "timings": result.timings,
    }


def print_result(
    result: GenerationResult, paths: list[Path], matches: list[float] | None = None
) -> None:
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
    if plan.blend:
        mix = ", ".join(f"{name} {weight:.2f}" for name, weight in plan.blend.items())
        console.print(f"blend:          {mix}")
        for note in plan.blend_notes:
            console.print(f"  {note}", soft_wrap=True)
    console.print(f"liked (VP+):    {plan.positive_text or '-'}  [{plan.positive_tokens} tokens]")
    console.print(f"disliked (VP−): {plan.negative_text or '-'}  [{plan.negative_tokens} tokens]")
    for note in plan.cut:
        console.print(f"cut:            {note}")
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
    console.print(f"style refs:     {describe_references(result.style_refs)}", soft_wrap=True)
    console.print(f"seed {result.seed}; {describe_timings(result.timings)}", soft_wrap=True)
    for rank, path in enumerate(paths):
        taste = f"  (taste match {matches[rank]:.3f})" if matches else ""
        console.print(f"wrote {path}{taste}")


def describe_timings(timings: dict[str, float]) -> str:
    """Stages as a sum that adds up to the total: the aesthetic-gradient steps run inside
    ``encode``, so they are shown as part of it, not as one more term."""
    inner = {"aesthetic": "encode"}
    terms = []
    for stage, seconds in timings.items():
        if stage == "total" or stage in inner:
            continue
        parts = [
            f"{name} {timings[name]:.2f}s"
            for name, outer in inner.items()
            if outer == stage and name in timings
        ]
        within = f" (of which {', '.join(parts)})" if parts else ""
        terms.append(f"{stage} {seconds:.2f}s{within}")
    total = timings.get("total", sum(v for k, v in timings.items() if k not in inner))
    return " + ".join(terms) + f" = total {total:.2f}s"
