"""Everything of a person's taste other tools can use, as files (docs/design.md, "Presets out").

The three presets (``generation.presets``), the default style tokens in A1111 and diffusers
formats (``generation.style_formats``), the liked reference images, and a README saying what each
tool carries and what it cannot. Built whole in memory, so a failure writes nothing; the CLI
writes it as a folder, HTTP sends it as a zip.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PIL import Image

from generation.presets import Preset, a1111_styles, fooocus_json, invoke_json, safe_name
from generation.reaction_images import describe_unreadable, reaction_bytes
from generation.style_formats import export_token, from_blob
from preference_store.models import Profile
from preference_store.styles import StyleRecord, StyleStore, default_ids

if TYPE_CHECKING:
    from preference_store.blobs import BlobStore

README = "README.md"
README_TITLE = "# tastemaker preset bundle"  # the first line: marks a folder as one of ours


@dataclass
class Bundle:
    """Relative path -> bytes, and what could not be put in (said in the README)."""

    files: dict[str, bytes] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def token_word(preset: Preset, record: StyleRecord, several_models: bool) -> str:
    """The word a token is typed as in A1111 (its file name): ``tastemaker-alice``, ``…-neg``,
    and the model when the person has tokens for more than one."""
    word = preset.name + ("-neg" if record.negative else "")
    return f"{word}-{safe_name(record.model)}" if several_models else word


def default_tokens(styles: StyleStore, user_id: str) -> list[tuple[StyleRecord, bytes]]:
    """The tokens generation would use: the default one per model, positive and negative."""
    records = styles.list_tokens(user_id)
    chosen = default_ids(records)
    return [styles.get(user_id, r.id) for r in reversed(records) if r.id in chosen]


def build_bundle(
    preset: Preset,
    profile: Profile,
    tokens: Sequence[tuple[StyleRecord, bytes]],
    blobs: BlobStore | None,
) -> Bundle:
    """The bundle for ``preset``; ``tokens`` are the person's default tokens (record, blob)."""
    bundle = Bundle()
    name = safe_name(preset.name)
    bundle.files["a1111/styles.csv"] = a1111_styles(preset)
    bundle.files[f"fooocus/sdxl_styles_{name}.json"] = fooocus_json(preset).encode()
    bundle.files[f"invoke/{name}.json"] = invoke_json(preset).encode()
    several = len({record.model for record, _ in tokens}) > 1
    words: list[tuple[str, StyleRecord]] = []
    for record, blob in tokens:
        word = safe_name(token_word(preset, record, several))
        vectors = from_blob(blob)
        bundle.files[f"embeddings/{word}.safetensors"] = export_token(
            vectors, name=word, fmt="a1111", step=record.steps
        )
        bundle.files[f"diffusers/{word}/learned_embeds.safetensors"] = export_token(
            vectors, name=word, fmt="diffusers", step=record.steps
        )
        words.append((word, record))
    for number, reaction in enumerate(profile.liked_images, start=1):
        try:
            data = reaction_bytes(reaction, blobs)
            with Image.open(io.BytesIO(data)) as image:  # the header only: which format
                suffix = (image.format or "png").lower().replace("jpeg", "jpg")
        except OSError as error:
            bundle.skipped.append(f"liked image {reaction.image_id}: {describe_unreadable(error)}")
            continue
        stem = f"{number:02d}-{safe_name(reaction.image_id)}"
        bundle.files[f"references/{stem}.{suffix}"] = data
    bundle.files[README] = _readme(preset, words, bundle).encode()
    return bundle


def _readme(preset: Preset, words: list[tuple[str, StyleRecord]], bundle: Bundle) -> str:
    name = preset.name
    images = sorted(p for p in bundle.files if p.startswith("references/"))
    lines = [
        README_TITLE,
        "",
        f"The taste of `{name}`, from tastemaker, for the tools you generate with. The words are",
        "the ones tastemaker adds to a prompt: liked attributes strongest first, each weighted by",
        "how strongly it is liked (1.0 to 1.2), and the disliked ones as the negative prompt.",
        "",
        f"- liked: {', '.join(t for t, _ in preset.liked) or '(none)'}",
        f"- disliked: {', '.join(t for t, _ in preset.disliked) or '(none)'}",
        "",
        "## Files",
        "",
        "| file | for | how |",
        "| --- | --- | --- |",
        "| `a1111/styles.csv` | AUTOMATIC1111 / Forge, ComfyUI styles.csv loaders | add its row "
        f"to your `styles.csv` (or `tastemaker prefs export … --format a1111-styles --out "
        f"styles.csv`), then pick `{name}` under Styles |",
        "| `fooocus/*.json` | Fooocus | copy into Fooocus's `sdxl_styles/` folder and restart; it "
        f"is listed as `{name.replace('-', ' ').title()}` |",
        "| `invoke/*.json` | InvokeAI | Style Presets → Import, pick this file |",
    ]
    for word, record in words:
        which = "negative style token" if record.negative else "style token"
        lines.append(
            f"| `embeddings/{word}.safetensors` | A1111, ComfyUI, Fooocus: {which} for "
            f"`{record.model}` ({record.family}) | into the tool's `embeddings/` folder; type "
            f"`{word}` (A1111), `embedding:{word}` (ComfyUI), `(embedding:{word}:1.0)` (Fooocus) |"
        )
        lines.append(
            f"| `diffusers/{word}/learned_embeds.safetensors` | diffusers, InvokeAI: the same "
            f'{which} | `pipe.load_textual_inversion(path, token="{word}")` (SDXL: once per '
            "encoder, with `text_encoder`/`tokenizer` and the `clip_l` / `clip_g` tensor); "
            "InvokeAI: install it in the Model Manager |"
        )
    if images:
        lines.append(
            f"| `references/` ({len(images)}) | IP-Adapter / image prompts in any tool | the "
            "pictures you liked, as kept |"
        )
    lines += [
        "",
        "Put the token in a prompt the way tastemaker does: `{prompt}, in the style of <word>`.",
        "",
        "## What the tools cannot carry",
        "",
        "- **The aesthetic embedding** (the pictures you liked as one CLIP direction, "
        "applied to the prompt's encoding): no style file or preset has a place for it, so "
        "none of these tools gets it.",
        "- **ViPer mixing**: tastemaker encodes the liked and disliked attributes apart and "
        "mixes them with the prompt; a preset pastes the words into the prompt, which weighs "
        "them differently.",
        "- **Choosing per prompt**: tastemaker drops an attribute the prompt contradicts (the "
        "prompt wins) and ranks attributes by relevance; a preset always adds all of them.",
        "- **The taste model** (your choices between images) ranks tastemaker's gallery and "
        "scores; no tool reads it.",
        "- **A1111 and Fooocus styles** hold words only: the style token and the references "
        "are separate files you install yourself. **InvokeAI presets** hold words (in compel's "
        "weight syntax) and a preview image, not the token or the model.",
        "- **Fooocus** is SDXL only: a token for SD 1.x does not load there.",
    ]
    if bundle.skipped:
        lines += ["", "## Left out", ""] + [f"- {item}" for item in bundle.skipped]
    return "\n".join(lines) + "\n"
