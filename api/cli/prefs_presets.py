"""``tastemaker prefs export --format …``: a person's taste as presets for A1111, Fooocus and
InvokeAI, or a folder bundle (docs/design.md, "Presets out").

Everything is made in memory first and written last, to a temporary file or folder beside
``--out`` that then takes its place: a refused export leaves ``--out`` as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from api.wiring.services import Components
from generation.presets import InvalidPreset, PresetFormat

PROFILE_FORMAT = "tastemaker"  # the profile document, for `prefs import`
EXPORT_FORMATS: tuple[str, ...] = (PROFILE_FORMAT, *(f.value for f in PresetFormat))


def check_format(fmt: str, out: Path | None) -> None:
    """Refuse a bad ``--format``/``--out`` pair before anything is opened."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidPreset(f"--format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    if fmt == "bundle" and out is None:
        raise InvalidPreset("--format bundle writes a folder: give it with --out DIR")
    if out is not None and fmt != "bundle" and out.is_dir():
        raise InvalidPreset(f"--out {out} is a folder; {fmt} is one file")


def export_presets(components: Components, owner: str, fmt: str, out: Path | None) -> bytes | str:
    """The bytes to print (``out`` None), or the message after writing ``out``, for the profile
    ``owner`` (its account already checked)."""
    from api.presets import preset_file

    kind = PresetFormat(fmt)
    existing = _read_existing(out) if kind is PresetFormat.A1111_STYLES and out else None
    made = preset_file(components.store, components.styles, components.blobs, owner, kind, existing)
    if kind is PresetFormat.BUNDLE:
        assert out is not None  # check_format
        write_folder(made.files, out)
        left_out = f"; left out: {'; '.join(made.skipped)}" if made.skipped else ""
        return f"wrote {out}/ ({len(made.files)} files){left_out}"
    if out is None:
        return made.data()
    write_file(made.data(), out)
    return f"{'updated' if existing else 'wrote'} {out} ({fmt})"


def _read_existing(out: Path) -> bytes | None:
    try:
        return out.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise InvalidPreset(f"cannot read {out}: {error.strerror or error}") from None


def write_file(data: bytes, out: Path) -> None:
    """``out`` replaced whole by ``data`` (a temporary file beside it, then renamed)."""
    temporary = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, out)
    except OSError as error:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        raise InvalidPreset(f"cannot write {out}: {error.strerror or error}") from None


def write_folder(files: dict[str, bytes], out: Path) -> None:
    """``out`` as a folder holding ``files``; an earlier bundle there is replaced, any other
    non-empty folder refused."""
    from generation.preset_bundle import README, README_TITLE

    if out.exists() and not out.is_dir():
        raise InvalidPreset(f"--out {out} is a file; a bundle is a folder")
    if out.is_dir() and any(out.iterdir()):
        readme = out / README
        ours = readme.is_file() and readme.read_text(errors="replace").startswith(README_TITLE)
        if not ours:
            raise InvalidPreset(f"--out {out} is a folder with other files in it; name a new one")
    staging = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
        for relative, data in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if out.exists():
            old = staging.with_name(staging.name + ".old")
            out.rename(old)
            try:
                staging.rename(out)
            except OSError:
                old.rename(out)  # the earlier bundle back in place
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(out)
    except OSError as error:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise InvalidPreset(f"cannot write {out}: {error.strerror or error}") from None
