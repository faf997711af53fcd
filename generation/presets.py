"""A person's taste as a style preset for the tools people generate with (docs/design.md,
"Presets out").

The words are the conditioning plan's own (``plan_conditioning`` for a prompt that bears on no
attribute): the liked attributes tastemaker would add, in its order and at its weights, and the
disliked ones. Each tool gets them in its own file and weight syntax:

- A1111 ``styles.csv`` (``name,prompt,negative_prompt``; A1111 weights ``(text:1.14)``): our row
  is added to the person's file or replaces the row of the same name, the other rows kept byte
  for byte;
- Fooocus style JSON (a list of ``{"name", "prompt", "negative_prompt"}``; A1111 weights);
- an InvokeAI style preset import (a list of ``{"name", "positive_prompt", "negative_prompt"}``;
  Invoke reads compel's weights, ``(text)1.14``).

``{prompt}`` marks where the person's prompt goes. Pure text: no model, no torch.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from enum import StrEnum

from generation.errors import InvalidGenerationRequest
from generation.plan import ConditioningPlan, plan_conditioning
from generation.prompt_syntax import escape, weighted
from preference_store.models import Profile

PLACEHOLDER = "{prompt}"
A1111_COLUMNS = ("name", "prompt", "negative_prompt")


class PresetFormat(StrEnum):
    """The presets `prefs export --format` and `GET /v1/preferences/presets/{format}` make: one
    tool's file, or the bundle of all of them (``preset_bundle``)."""

    A1111_STYLES = "a1111-styles"
    FOOOCUS = "fooocus"
    INVOKE = "invoke"
    BUNDLE = "bundle"


PRESET_FORMATS: tuple[str, ...] = tuple(f.value for f in PresetFormat if f != PresetFormat.BUNDLE)
"""The one-file presets ``render`` writes."""
MAX_STYLES_BYTES = 16 * 1024 * 1024  # a styles.csv of thousands of rows is a few MB

# CLIP's own pre-tokenizer pieces (a letter run, one digit, a run of other marks): each is at
# least one token. Presets are made without a model, so the plan counts these.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CLIP_PIECES = re.compile(r"[^\W\d_]+|\d|[^\w\s]+|_+")


class InvalidPreset(InvalidGenerationRequest):
    """A preset that cannot be made: an unknown format, nothing to put in it, or a styles.csv
    that is not one; the message is one line a person can act on."""


@dataclass(frozen=True)
class Preset:
    """One style: its name, the liked and disliked attributes with their weights (in order)."""

    name: str
    liked: tuple[tuple[str, float], ...]
    disliked: tuple[tuple[str, float], ...]

    def prompt(self, syntax: str = "a1111") -> str:
        """``{prompt}, <liked>`` in A1111 or compel weight syntax."""
        return ", ".join([PLACEHOLDER, *(_weight(t, w, syntax) for t, w in self.liked)])

    def negative_prompt(self, syntax: str = "a1111") -> str:
        return ", ".join(_weight(t, w, syntax) for t, w in self.disliked)


def preset_name(user_id: str, profile: str | None = None) -> str:
    """``tastemaker-alice``, or ``tastemaker-alice-zines`` for a named profile."""
    return f"tastemaker-{user_id}" + (f"-{profile}" if profile and profile != "default" else "")


def safe_name(text: str) -> str:
    """``text`` as one file-name part: letters, digits, '.', '_' and '-' only."""
    return _UNSAFE.sub("-", text).strip(".-") or "x"


def count_pieces(text: str) -> int:
    """Tokens a text takes at least, by CLIP's pre-tokenizer (the plan's token counter here)."""
    return len(_CLIP_PIECES.findall(text))


def plan_for_preset(profile: Profile) -> ConditioningPlan:
    """The plan tastemaker makes when the prompt bears on no attribute: every attribute ranked
    by strength, subject matter and ambiguous ones left out, within the chunk budget."""
    return plan_conditioning("", profile.attributes, count_tokens=count_pieces)


def make_preset(profile: Profile, name: str | None = None) -> Preset:
    """The profile's preset; ``InvalidPreset`` when the plan would add nothing."""
    plan = plan_for_preset(profile)
    liked = tuple((d.text, d.weight) for d in plan.used if d.polarity.value == "like")
    disliked = tuple((d.text, d.weight) for d in plan.used if d.polarity.value == "dislike")
    if not liked and not disliked:
        raise InvalidPreset(
            "this profile has no liked or disliked attributes a preset could carry "
            "(`tastemaker prefs add` or `tastemaker onboard` first)"
        )
    return Preset(name or preset_name(profile.user_id), liked, disliked)


def _weight(text: str, weight: float, syntax: str) -> str:
    if syntax == "a1111":
        return weighted(text, weight)
    weight = round(weight, 2)  # compel: "(text)1.14"; its escapes are A1111's
    return escape(text) if weight == 1.0 else f"({escape(text)}){weight:g}"


# -- the three formats ---------------------------------------------------------------------------


def fooocus_json(preset: Preset) -> str:
    """Fooocus's ``sdxl_styles/*.json``: it replaces ``{prompt}`` and normalises the name
    ("tastemaker-alice" shows as "Tastemaker Alice")."""
    style = {
        "name": preset.name,
        "prompt": preset.prompt("a1111"),
        "negative_prompt": preset.negative_prompt("a1111"),
    }
    return json.dumps([style], ensure_ascii=False, indent=4) + "\n"


def invoke_json(preset: Preset) -> str:
    """InvokeAI's style preset import (Style Presets → Import, a .json file)."""
    style = {
        "name": preset.name,
        "positive_prompt": preset.prompt("compel"),
        "negative_prompt": preset.negative_prompt("compel"),
    }
    return json.dumps([style], ensure_ascii=False, indent=2) + "\n"


def a1111_styles(preset: Preset, existing: bytes | None = None) -> bytes:
    """``existing`` (a styles.csv, or None) with the preset's row added, or put in place of the
    row of the same name; every other byte kept. A new file gets A1111's header and its
    ``\\r\\n`` line ends."""
    if existing is None or not existing.strip():
        return _csv_line(A1111_COLUMNS, "\r\n") + _row(preset, A1111_COLUMNS, "\r\n")
    if len(existing) > MAX_STYLES_BYTES:
        raise InvalidPreset(f"the styles file is over {MAX_STYLES_BYTES // 2**20} MB")
    bom = b"\xef\xbb\xbf" if existing.startswith(b"\xef\xbb\xbf") else b""
    try:
        text = existing[len(bom) :].decode("utf-8")
    except UnicodeDecodeError:
        text = "\x00"
    if "\x00" in text:
        raise InvalidPreset("the styles file is not UTF-8 text (A1111 writes UTF-8)")
    records = _records(text)
    header = [c.strip() for c in records[0][1]]
    missing = [c for c in A1111_COLUMNS if c not in header]
    if missing:
        raise InvalidPreset(
            f"not an A1111 styles.csv: its header {','.join(header)[:80]!r} lacks "
            f"{', '.join(missing)} (A1111 writes name,prompt,negative_prompt)"
        )
    newline = "\r\n" if records[0][0].endswith("\r\n") else "\n"
    name_at = header.index("name")
    ours = _row(preset, header, newline)
    out, replaced = [], False
    for index, (raw, cells) in enumerate(records):
        if index and len(cells) > name_at and cells[name_at] == preset.name:
            if not replaced:
                out.append(ours)
            replaced = True
            continue
        out.append(raw.encode("utf-8"))
    if not replaced:
        if not out[-1].endswith(b"\n"):
            out[-1] += newline.encode()
        out.append(ours)
    return bom + b"".join(out)


def _records(text: str) -> list[tuple[str, list[str]]]:
    """Each CSV record with the exact text it came from (a quoted cell may span lines)."""
    lines = text.splitlines(keepends=True)
    reader = csv.reader(iter(lines), skipinitialspace=True, strict=True)  # as A1111 reads
    records: list[tuple[str, list[str]]] = []
    start = 0
    try:
        for cells in reader:
            records.append(("".join(lines[start : reader.line_num]), cells))
            start = reader.line_num
    except csv.Error as error:
        raise InvalidPreset(
            f"the styles file is not CSV (line {reader.line_num}: {error})"
        ) from None
    if not records or not records[0][1]:
        raise InvalidPreset("the styles file has no header row (name,prompt,negative_prompt)")
    return records


def _row(preset: Preset, columns: tuple[str, ...] | list[str], newline: str) -> bytes:
    values = {
        "name": preset.name,
        "prompt": preset.prompt("a1111"),
        "negative_prompt": preset.negative_prompt("a1111"),
    }
    return _csv_line([values.get(c, "") for c in columns], newline)


def _csv_line(cells: tuple[str, ...] | list[str], newline: str) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=newline).writerow(cells)
    return buffer.getvalue().encode("utf-8")


def render(preset: Preset, fmt: str, existing: bytes | None = None) -> bytes:
    """The preset file in ``fmt`` (one of ``PRESET_FORMATS``)."""
    if fmt == PresetFormat.A1111_STYLES:
        return a1111_styles(preset, existing)
    if fmt == PresetFormat.FOOOCUS:
        return fooocus_json(preset).encode("utf-8")
    if fmt == PresetFormat.INVOKE:
        return invoke_json(preset).encode("utf-8")
    raise InvalidPreset(f"format must be one of {', '.join(PRESET_FORMATS)}, not {fmt!r}")
