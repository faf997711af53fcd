"""``tastemaker pick``: "which of these two do you prefer?" in the terminal (issue 22; design.md,
"Taste from choices"). Each round prints both images' paths and descriptions and reads
1 (the first), 2 (the second), 0 (neither), s (skip) or q (stop); the taste model retrains after
every answer, and the end shows what it now thinks the person likes and dislikes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from api.cli.profile_option import ProfileOpt
from api.cli.users import CreateOpt, user_for_writing
from api.cli.words import count
from api.wiring.services import Components

if TYPE_CHECKING:
    from PIL import Image

    from api.taste import TasteService
    from generation.clip import ClipBundle
    from preference_store.choices import Answer
    from preference_store.store import PreferenceStore

console = Console(highlight=False, soft_wrap=True)  # paths stay whole, copyable
waiting = Console(stderr=True)
ANSWERS: dict[str, Answer] = {"1": "left", "2": "right", "0": "neither", "s": "skip"}
SHOWN_AT_THE_END = 3


def pick(
    user: Annotated[str, typer.Argument(help="The person's user id.")],
    profile_name: ProfileOpt = None,
    rounds: Annotated[int, typer.Option("--rounds", min=1, max=200, help="Pairs to show.")] = 10,
    gallery: Annotated[
        Path | None, typer.Option("--gallery", help="A gallery folder with manifest.json.")
    ] = None,
    create: CreateOpt = False,
) -> None:
    """Choose between two images, ROUNDS times: 1 or 2 picks one, 0 neither, s skips, q stops."""
    from api.wiring.agent import build_gallery
    from api.wiring.taste import build_taste

    components = Components()
    user_for_writing(components.accounts, user, create=create)
    owner = components.profiles.owner(user, profile_name)
    with waiting.status("getting the images ready…"):
        taste = build_taste(components, build_gallery(components.settings, gallery))
        pair = taste.next_pair(owner, None)
    answered = 0
    for number in range(1, rounds + 1):
        if pair is None or pair.right is None:
            console.print("That was every pair of this gallery.")
            break
        left, right = taste.gallery.get(pair.left), taste.gallery.get(pair.right)
        console.print(f"[bold cyan]Pair {number} of {rounds}[/]: which do you prefer?")
        console.print(f"  1: {left.description}\n     {taste.gallery.path(left)}")
        console.print(f"  2: {right.description}\n     {taste.gallery.path(right)}")
        answer = _read_answer()
        if answer is None:
            break
        answered_id, pair = pair.id, taste.answer(owner, None, pair.id, answer)
        answered += answer != "skip"
        if taste.asks_why(owner, answered_id) is not None and not _ask_why(
            components, taste, owner, answered_id
        ):
            break
    ranking = taste.ranking(owner)
    console.print(
        f"Learned from {count(taste.counted(owner), 'choice')} ({count(answered, 'new one')} now)."
    )
    _save_chosen(components.store, taste, owner)
    if taste.counted(owner):
        liked = ", ".join(r.image.id for r in ranking[:SHOWN_AT_THE_END])
        disliked = ", ".join(r.image.id for r in ranking[-SHOWN_AT_THE_END:])
        console.print(f"What I think you like: {liked}\nand don't like: {disliked}")


def _save_chosen(store: PreferenceStore, taste: TasteService, user: str) -> None:
    """The images picked this run join the profile as one version (design.md, "Chosen
    images"): they feed the aesthetic embedding, style training and PALP."""
    from preference_store.taste import MAX_CHOSEN_IMAGES

    before = store.profile(user).version
    candidates = taste.chosen(user)
    profile = store.set_chosen(user, candidates)
    if profile.version != before:
        chosen = sum(1 for r in profile.liked_images if r.chosen)
        unsure = taste.picked(user) - len(candidates)  # the lesser of two evils, or past the cap
        why = "I am not sure you like" if len(candidates) < MAX_CHOSEN_IMAGES else "weaker"
        left_out = f"; {count(unsure, 'other pick')} {why}, left out" if unsure > 0 else ""
        console.print(
            f"Saved {count(chosen, 'chosen image')} as liked, weighted by how sure I am"
            f"{left_out} (profile version {profile.version})."
        )


def _ask_why(components: Components, taste: TasteService, user: str, pair_id: str) -> bool:
    """ "What made you pick that one?" after a surprising pick: a typed answer is read like a
    comment on the picked image and stored; Enter skips. False at the end of input."""
    from agent.extraction import ExtractionError, InvalidComment
    from agent.pick_why import WHY_QUESTION
    from api.taste import noted
    from api.wiring.agent import build_extractor

    console.print(f"[bold cyan]{WHY_QUESTION}[/] (Enter to skip)\n> ", end="")
    line = sys.stdin.readline()
    if not line.strip():
        return bool(line)
    extractor = build_extractor(components.settings, components.embedder)
    try:
        learned = taste.explain(
            user,
            None,
            pair_id,
            line,
            extractor,
            lambda who, drafts: components.store.add(who, drafts, reason="why I picked"),
        )
    except (InvalidComment, ExtractionError) as error:
        console.print(f"[yellow]{error}[/]")
        return True
    console.print(noted(learned))
    return True


def _read_answer() -> Answer | None:
    """1/2/0/s from stdin, asking again after anything else; None at q or the end of input."""
    while True:
        console.print("> ", end="")
        line = sys.stdin.readline()
        if not line or line.strip().lower() in ("q", "quit", "done"):
            return None
        answer = ANSWERS.get(line.strip().lower())
        if answer is not None:
            return answer
        console.print(
            "[yellow]Type 1 or 2 for the one you prefer, 0 for neither, s to skip, q to stop.[/]"
        )


def taste_matches(
    components: Components,
    user: str,
    clip: ClipBundle,
    images: list[Image.Image],
    texts: list[str | None] | None = None,
) -> list[float] | None:
    """The taste match of each image for ``user`` (with ``clip``'s features and, where known,
    its description in ``texts``), or None while the model knows nothing of the person (it
    would say 0.5 of everything): the rule best-of-N ranks by (``api.wiring.taste``)."""
    from api.wiring.agent import build_gallery
    from api.wiring.taste import build_taste

    taste = build_taste(components, build_gallery(components.settings), clip=clip)
    if not taste.has_signal(user):
        return None
    return taste.score(user, images, texts or ())


def register(app: typer.Typer) -> None:
    app.command("pick")(pick)
