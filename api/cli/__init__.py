"""The ``tastemaker`` command line: one Typer app, one module per command group."""

from __future__ import annotations

import os
import sys

# Library chatter (optional-backend notices, load bars) is not a command's output; set before
# transformers is first imported, which happens below.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.exc import OperationalError
from transformers.utils import logging as hf_logging

from api.cli import db, generate, onboard, prefs, service
from api.errors import describe_validation_error
from api.migrate import SchemaError
from preference_store.errors import PreferenceError

app = typer.Typer(
    name="tastemaker",
    help="Learn a person's visual taste in a short chat and make Stable Diffusion follow it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(prefs.app, name="prefs")
app.add_typer(db.app, name="db")
service.register(app)
onboard.register(app)
generate.register(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: domain errors become one readable line and exit code 1."""
    err = Console(stderr=True)
    hf_logging.disable_progress_bar()  # model-loading bars are noise in a command's output
    try:
        app(args=argv)
    except ValidationError as error:
        err.print(f"[red]error:[/red] {describe_validation_error(error)}", highlight=False)
        sys.exit(1)
    except (PreferenceError, SchemaError, ValueError, OSError) as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(1)
    except OperationalError as error:  # the database is unreachable or refuses us
        reason = str(error.orig or error).strip().splitlines()[0]
        err.print(f"[red]error:[/red] cannot use the database: {reason}", highlight=False)
        sys.exit(1)
