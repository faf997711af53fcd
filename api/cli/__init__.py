"""The ``tastemaker`` command line: one Typer app, one module per command group.

Start-up is a budget (bench/cli.py: ``--help`` ≤ 0.5 s, ``prefs show`` ≤ 1 s): command modules
import only typer, rich and light project modules at the top; torch, transformers, diffusers,
chromadb and langchain load inside the commands that use them (tests/test_cli_startup.py).
A new command group is one ``register`` line below.
"""

from __future__ import annotations

import os
import sys

# Library chatter (optional-backend notices, model-loading bars) is not a command's output; set
# before transformers or huggingface_hub is first imported (inside the commands that need them).
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import contextlib

import typer
from pydantic import ValidationError
from rich.console import Console

from api.cli import (
    corrections,
    db,
    generate,
    help_style,
    models,
    onboard,
    pick,
    prefs,
    profiles,
    service,
    style,
)
from api.wiring.services import load_settings
from api.wiring.threads import MAX_DEFAULT_THREADS, use_torch_threads
from preference_store.errors import PreferenceError, SchemaError

help_style.apply()
app = typer.Typer(
    name="tastemaker",
    help="Learn a person's visual taste in a short chat and make Stable Diffusion follow it.",
    epilog=f"torch uses TASTEMAKER_TORCH_THREADS CPU threads (default: the physical cores, at "
    f"most {MAX_DEFAULT_THREADS}); fewer is faster on a busy machine. Settings: "
    "TASTEMAKER_* variables, listed in docs/configuration.md.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(prefs.app, name="prefs")
app.add_typer(corrections.app, name="corrections")
app.add_typer(db.app, name="db")
app.add_typer(style.app, name="style")
app.add_typer(models.app, name="models")
app.add_typer(profiles.app, name="profiles")
service.register(app)
onboard.register(app)
pick.register(app)
generate.register(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: domain errors become one readable line and exit code 1."""
    err = Console(stderr=True)
    try:
        _limit_torch_threads()
        app(args=argv)
    except ValidationError as error:
        from api.errors import describe_validation_error  # imports every layer's errors

        err.print(f"[red]error:[/red] {describe_validation_error(error)}", highlight=False)
        sys.exit(1)
    except (PreferenceError, SchemaError, ValueError, OSError) as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(1)
    except Exception as error:
        if not _is_database_error(error):
            raise
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        err.print(f"[red]error:[/red] cannot use the database: {reason}", highlight=False)
        sys.exit(1)


def _limit_torch_threads() -> None:
    """Before any command loads torch; a setting that does not parse is reported by the
    command that reads it (``--help`` still works)."""
    with contextlib.suppress(ValidationError):
        use_torch_threads(load_settings())


def _is_database_error(error: Exception) -> bool:
    """The database is unreachable or refuses us (checked lazily: SQLAlchemy is only imported
    by the commands that use the database, and then it is already loaded)."""
    if "sqlalchemy" not in sys.modules:
        return False
    from sqlalchemy.exc import OperationalError

    return isinstance(error, OperationalError)
