"""A person's taste as a preset file or bundle, from the stores: what `prefs export --format` and
`GET /v1/preferences/presets/{format}` both give (docs/design.md, "Presets out")."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from generation.presets import (
    InvalidPreset,
    PresetFormat,
    make_preset,
    preset_name,
    render,
    safe_name,
)

if TYPE_CHECKING:
    from preference_store.blobs import BlobStore
    from preference_store.store import PreferenceStore
    from preference_store.styles import StyleStore

MEDIA_TYPES = {
    PresetFormat.A1111_STYLES: "text/csv; charset=utf-8",
    PresetFormat.FOOOCUS: "application/json",
    PresetFormat.INVOKE: "application/json",
    PresetFormat.BUNDLE: "application/zip",
}

_STRING = {"type": "string"}
_PRESET_LIST = {  # Fooocus's styles ("prompt") and InvokeAI's import ("positive_prompt") alike
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name", "negative_prompt"],
        "properties": {
            key: _STRING for key in ("name", "prompt", "positive_prompt", "negative_prompt")
        },
    },
}
PRESET_DOWNLOADS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The preset file (a zip for the bundle), as an attachment.",
        "content": {
            "text/csv": {"schema": _STRING},
            "application/json": {"schema": _PRESET_LIST},
            "application/zip": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@dataclass
class PresetFile:
    """One download: what it is, the name it is saved under, and its bytes (a bundle's
    files, by relative path, zipped only when asked for)."""

    media_type: str
    filename: str
    content: bytes = b""
    files: dict[str, bytes] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def data(self) -> bytes:
        return self.content if not self.files else zip_files(self.files)


def preset_file(
    store: PreferenceStore,
    styles: StyleStore,
    blobs: BlobStore | None,
    owner: str,
    fmt: PresetFormat,
    existing: bytes | None = None,
) -> PresetFile:
    """The preset in ``fmt`` of the profile ``owner`` (``existing``: a styles.csv to add the
    row to), named after its person and profile; a bundle comes both as its files and as one
    zip."""
    if fmt not in MEDIA_TYPES:
        raise InvalidPreset(f"{fmt.value} is not a preset format")
    profile = store.profile(owner, with_aesthetic=False)
    preset = make_preset(profile, preset_name(*store.profiles.account_of(owner)))
    name = safe_name(preset.name)
    if fmt is not PresetFormat.BUNDLE:
        filenames = {
            PresetFormat.A1111_STYLES: "styles.csv",
            PresetFormat.FOOOCUS: f"sdxl_styles_{name}.json",
            PresetFormat.INVOKE: f"{name}.json",
        }
        return PresetFile(MEDIA_TYPES[fmt], filenames[fmt], render(preset, fmt, existing))
    from generation.preset_bundle import build_bundle, default_tokens  # torch, for the tokens

    bundle = build_bundle(preset, profile, default_tokens(styles, owner), blobs)
    return PresetFile(MEDIA_TYPES[fmt], f"{name}.zip", files=bundle.files, skipped=bundle.skipped)


def zip_files(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in sorted(files.items()):
            archive.writestr(path, data)
    return buffer.getvalue()
