"""A person's taste as a preset file or bundle, from the stores: what `prefs export --format` and
`GET /v1/preferences/export?format=` both give (docs/design.md, "Presets out")."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from generation.presets import ExportFormat, InvalidPreset, make_preset, render, safe_name

if TYPE_CHECKING:
    from preference_store.blobs import BlobStore
    from preference_store.store import PreferenceStore
    from preference_store.styles import StyleStore

MEDIA_TYPES = {
    ExportFormat.A1111_STYLES: "text/csv; charset=utf-8",
    ExportFormat.FOOOCUS: "application/json",
    ExportFormat.INVOKE: "application/json",
    ExportFormat.BUNDLE: "application/zip",
}

EXPORT_FORMAT_HELP = (
    "tastemaker: the profile document (for import); a1111-styles: a styles.csv row; fooocus: "
    "Fooocus style JSON; invoke: an InvokeAI style preset; bundle: a zip of all of them with "
    "the style tokens, the liked images and a README"
)
PRESET_DOWNLOADS: dict[int | str, dict[str, Any]] = {
    200: {"content": {media: {} for media in sorted(set(MEDIA_TYPES.values()))}}
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
    user: str,
    fmt: ExportFormat,
    existing: bytes | None = None,
) -> PresetFile:
    """The preset in ``fmt`` (``existing``: a styles.csv to add the row to); a bundle comes
    both as its files and as one zip."""
    if fmt not in MEDIA_TYPES:
        raise InvalidPreset(f"{fmt.value} is not a preset format")
    profile = store.profile(user, with_aesthetic=False)
    preset = make_preset(profile)
    name = safe_name(preset.name)
    if fmt is not ExportFormat.BUNDLE:
        filenames = {
            ExportFormat.A1111_STYLES: "styles.csv",
            ExportFormat.FOOOCUS: f"sdxl_styles_{name}.json",
            ExportFormat.INVOKE: f"{name}.json",
        }
        return PresetFile(MEDIA_TYPES[fmt], filenames[fmt], render(preset, fmt, existing))
    from generation.preset_bundle import build_bundle, default_tokens  # torch, for the tokens

    bundle = build_bundle(preset, profile, default_tokens(styles, user), blobs)
    return PresetFile(MEDIA_TYPES[fmt], f"{name}.zip", files=bundle.files, skipped=bundle.skipped)


def zip_files(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in sorted(files.items()):
            archive.writestr(path, data)
    return buffer.getvalue()
