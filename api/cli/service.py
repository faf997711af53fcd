"""``tastemaker serve`` and ``tastemaker users``: run the HTTP service and manage its users."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from api.wiring import Components, load_settings, open_engine

console = Console(highlight=False)
users = typer.Typer(help="Create users and issue API tokens.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(users, name="users")


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8000,
) -> None:
    """Start the HTTP service (embedded chromadb and SQLite unless configured otherwise)."""
    import uvicorn

    from api.app import create_app

    settings = load_settings()
    open_engine(settings).dispose()  # a schema that is behind stops here, with the command to run
    console.print(f"tastemaker on http://{host}:{port}  (data in {settings.data_dir.resolve()})")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@users.command("create")
def create_user(user: Annotated[str, typer.Argument(help="The new user's id.")]) -> None:
    """Create a user and print an API token for it (shown once)."""
    accounts = Components().accounts
    accounts.create(user)
    console.print(accounts.issue_token(user))


@users.command("token")
def new_token(user: Annotated[str, typer.Argument(help="An existing user's id.")]) -> None:
    """Issue another API token for an existing user (shown once)."""
    console.print(Components().accounts.issue_token(user))


@users.command("list")
def list_users() -> None:
    """List user ids."""
    for user in Components().accounts.list():
        console.print(user)
