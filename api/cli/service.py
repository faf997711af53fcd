"""``tastemaker serve``, ``tastemaker worker`` and ``tastemaker users``: run the HTTP service,
run jobs from a broker, and manage users."""

from __future__ import annotations

import errno
import socket
from typing import Annotated

import typer
from rich.console import Console

from api.wiring.services import Components, load_settings, open_engine

console = Console(highlight=False, soft_wrap=True)  # paths stay whole, copyable
users = typer.Typer(help="Create users and issue API tokens.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(worker)
    app.add_typer(users, name="users")


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8000,
) -> None:
    """Start the HTTP service (embedded chromadb and SQLite unless configured otherwise)."""
    problem = _cannot_listen(host, port)  # before the models load, not a minute after
    if problem:
        console.print(f"[red]error:[/red] cannot listen on {host}:{port}: {problem}")
        raise typer.Exit(1)
    import uvicorn

    from api.app import create_app

    settings = load_settings()
    open_engine(settings).dispose()  # a schema that is behind stops here, with the command to run
    console.print(f"tastemaker on http://{host}:{port}  (data in {settings.data_dir.resolve()})")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def _cannot_listen(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be bound now, in words; None when it can. Bound as uvicorn
    binds (SO_REUSEADDR: a port in TIME_WAIT is free) and released at once."""
    if port == 0:
        return None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        return f"unknown host ({error.strerror})"
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return "the port is in use (another `tastemaker serve`?); choose one with --port"
            if error.errno == errno.EACCES:
                return "permission denied (ports below 1024 need privileges); use --port"
            return error.strerror or str(error)
    return None


def worker(
    device: Annotated[
        str | None, typer.Option(help="torch device of this worker, e.g. cuda:1 (the setting).")
    ] = None,
) -> None:
    """Run jobs from the broker (TASTEMAKER_BROKER_URL), one at a time: start one worker process
    per accelerator, on as many machines as needed."""
    from api.wiring.jobs import job_kinds, load_handlers, open_progress
    from jobs.celery_engine import celery_app, run_worker
    from jobs.repository import JobRepository

    settings = load_settings()
    if device:
        settings = settings.model_copy(update={"device": device})
    if not settings.broker_url:
        console.print(
            "[red]error:[/red] set TASTEMAKER_BROKER_URL (redis://… or amqp://…): without a "
            "broker, `tastemaker serve` runs jobs in its own process"
        )
        raise typer.Exit(1)
    try:
        progress = open_progress(settings)
    except ValueError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    components = Components(settings)
    console.print(f"tastemaker worker: loading {settings.model} on {settings.device}")
    handlers = load_handlers(components)
    app = celery_app(settings.broker_url, visibility_timeout_s=settings.job_visibility_timeout_s)
    run_worker(
        app,
        JobRepository(components.engine, job_kinds()),
        handlers,
        progress,
        lease_s=settings.job_lease_s,
        max_attempts=settings.job_max_attempts,
        max_batch=settings.max_batch,
        gather_s=settings.batch_window_ms / 1000,
    )


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
