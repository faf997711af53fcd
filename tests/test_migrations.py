"""Alembic owns the schema: an empty database upgrades to the models' schema, one step back
works, a round-1 SQLite data dir (tables from ``create_all``, no ``alembic_version``) upgrades in
place with its data, and a database that is behind stops the service with the command to run.

``tests/data/round1_sqlite.sql`` is the dump of a data dir made by the round-1 code (before
migrations) with one user, token, profile version, onboarding message, job and feedback."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from agent.sessions import SessionRepository
from api import migrate
from api.wiring.jobs import job_kinds
from jobs.repository import JobRepository
from preference_store.accounts import Accounts
from preference_store.database import make_engine
from preference_store.versions import VersionLog
from tests.cli_runner import run_cli

ROUND1_DUMP = Path(__file__).parent / "data" / "round1_sqlite.sql"
ROUND1_TOKEN = "tm_dkQbeBEWze7fR4rb7i1hV1x3AkZaHGepUF4R0QAVm68"
ROUND1_POSTGRES_DUMP = Path(__file__).parent / "data" / "round1_postgresql.sql"
ROUND1_POSTGRES_TOKEN = "tm_Bj5P3inHPhT9AAqwOsVsnSjDFk5TlEMSlXNiCJz39oI"
ROUND1_TABLES = {
    "users",
    "api_tokens",
    "profile_versions",
    "onboarding_sessions",
    "onboarding_messages",
    "generation_jobs",
    "generation_feedback",
}


def round1_data_dir(directory: Path, *, only: set[str] | None = None) -> Path:
    """A data dir as round 1 left it; ``only`` keeps just those tables (an older create_all)."""
    directory.mkdir(parents=True, exist_ok=True)
    statements = ROUND1_DUMP.read_text()
    with sqlite3.connect(directory / "tastemaker.db") as connection:
        connection.executescript(statements)
        for table in ROUND1_TABLES - (only or ROUND1_TABLES):
            connection.execute(f"DROP TABLE {table}")
    return directory


def one_line(output: str) -> str:
    """Rich wraps long lines at the terminal's width."""
    return " ".join(output.split())


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_an_empty_database_upgrades_to_the_models_schema_and_one_step_back(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    assert migrate.state(engine).current is None
    with pytest.raises(migrate.SchemaError, match="tastemaker db upgrade"):
        migrate.check(engine)

    upgraded = migrate.upgrade(engine)

    assert upgraded.up_to_date
    assert migrate.differences(engine) == []  # the migrations make exactly what the models say
    assert migrate.check(engine).current == migrate.head()

    stepped_back = migrate.downgrade(engine, "-1")
    assert stepped_back.current == migrate.parent(migrate.head()) and not stepped_back.up_to_date
    assert "profiles" not in tables(engine) and tables(engine) >= ROUND1_TABLES | {"taste_pairs"}
    with pytest.raises(migrate.SchemaError, match="is behind"):
        migrate.check(engine)

    assert migrate.upgrade(engine).up_to_date
    assert migrate.differences(engine) == []
    engine.dispose()


def test_a_round1_sqlite_data_dir_upgrades_in_place_with_its_data(tmp_path: Path) -> None:
    data_dir = round1_data_dir(tmp_path / "data")
    engine = make_engine(f"sqlite:///{data_dir / 'tastemaker.db'}")
    assert migrate.state(engine).legacy

    assert migrate.upgrade(engine).up_to_date

    assert migrate.differences(engine) == []
    assert Accounts(engine).user_for_token(ROUND1_TOKEN) == "ada"
    profile = VersionLog(engine).latest("ada")
    assert profile is not None and [a.text for a in profile.attributes] == ["teal palette"]
    repository = SessionRepository(engine)
    session = repository.active_for("ada")
    assert session is not None
    assert [m.text for m in repository.messages(session.id)] == ["love the teal blues"]
    # the round-1 unique (session, seq) still holds after the table was copied to name it
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO onboarding_messages (session_id, seq, role, kind, text, created_at)"
                " VALUES (:s, 1, 'user', 'comment', 'again', '2026-11-30 00:00:00')"
            ),
            {"s": session.id},
        )
    job = JobRepository(engine, job_kinds()).get_for("ada", _round1_job(engine))
    assert job is not None and job.status == "done"
    engine.dispose()


def _round1_job(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text("SELECT id FROM generation_jobs")).scalar_one())


def test_a_round1_data_dir_made_before_some_tables_existed_gets_them(tmp_path: Path) -> None:
    data_dir = round1_data_dir(tmp_path / "data", only={"users", "api_tokens"})
    engine = make_engine(f"sqlite:///{data_dir / 'tastemaker.db'}")

    assert migrate.upgrade(engine).up_to_date

    assert migrate.differences(engine) == []
    assert Accounts(engine).user_for_token(ROUND1_TOKEN) == "ada"
    engine.dispose()


def test_a_round1_postgresql_database_upgrades_in_place_with_its_data(postgres_url: str) -> None:
    """Round 1 could already point DATABASE_URL at PostgreSQL; there the server named the
    constraints, so adoption renames the one the baseline names differently."""
    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(ROUND1_POSTGRES_DUMP.read_text())  # type: ignore[arg-type]
    engine = make_engine(postgres_url)
    assert migrate.state(engine).legacy

    assert migrate.upgrade(engine).up_to_date

    assert migrate.differences(engine) == []
    assert Accounts(engine).user_for_token(ROUND1_POSTGRES_TOKEN) == "ada"
    repository = SessionRepository(engine)
    session = repository.active_for("ada")
    assert session is not None
    repository.append(session.id, "user", "comment", "and the soft light", None)
    assert [m.seq for m in repository.messages(session.id)] == [1, 2]
    engine.dispose()


def test_tables_that_are_not_tastemakers_are_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
    engine = make_engine(f"sqlite:///{path}")

    with pytest.raises(migrate.SchemaError, match="not made by tastemaker"):
        migrate.upgrade(engine)

    assert tables(engine) == {"users"}
    assert migrate.state(engine).current is None
    engine.dispose()


def test_the_embedded_default_upgrades_a_round1_data_dir_on_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = round1_data_dir(tmp_path / "data")
    monkeypatch.setenv("TASTEMAKER_DATA_DIR", str(data_dir))

    listed = run_cli(capsys, "users", "list")

    assert listed.code == 0, listed.stderr
    assert listed.stdout.split() == ["ada"]
    assert run_cli(capsys, "db", "current").stdout.strip() == f"{migrate.head()} (head)"


def test_an_explicit_database_url_that_is_behind_refuses_with_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = round1_data_dir(tmp_path / "data")
    monkeypatch.setenv("TASTEMAKER_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("TASTEMAKER_DATABASE_URL", f"sqlite:///{data_dir / 'tastemaker.db'}")

    refused = run_cli(capsys, "serve", "--port", "0")

    assert refused.code == 1
    assert "run `tastemaker db upgrade` first" in one_line(refused.stderr)
    assert "Traceback" not in refused.stderr
    assert run_cli(capsys, "db", "current").stdout.startswith("pre-migration tables")

    upgraded = run_cli(capsys, "db", "upgrade")
    assert upgraded.code == 0 and f"schema at {migrate.head()} (head)" in upgraded.stdout
    assert run_cli(capsys, "users", "list").stdout.split() == ["ada"]

    back = run_cli(capsys, "db", "downgrade")
    assert back.code == 0 and f"schema at {migrate.parent(migrate.head())}" in back.stdout
    assert run_cli(capsys, "users", "list").code == 1


def test_db_upgrade_on_postgresql_through_the_cli(
    postgres_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASTEMAKER_DATABASE_URL", postgres_url)

    refused = run_cli(capsys, "users", "list")
    assert "run `tastemaker db upgrade` first" in one_line(refused.stderr)
    assert run_cli(capsys, "db", "upgrade").code == 0
    assert run_cli(capsys, "users", "create", "grace").code == 0
    assert run_cli(capsys, "users", "list").stdout.split() == ["grace"]


def test_an_unreachable_database_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "TASTEMAKER_DATABASE_URL",
        "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2",
    )

    failed = run_cli(capsys, "db", "upgrade")

    assert failed.code == 1
    assert one_line(failed.stderr).startswith("error: cannot use the database:")
    assert "Traceback" not in failed.stderr


def add_profile(user: str, name: str) -> None:
    """A row of the newest migration's table (0006: a person's named profiles)."""
    from api.wiring.services import Components

    components = Components()
    components.accounts.ensure(user)
    components.profiles.create(user, name)


def test_db_downgrade_says_what_it_drops_and_asks_before_deleting_data(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli(capsys, "db", "upgrade").code == 0
    add_profile("ada", "zines")
    add_profile("ada", "work")
    head = f"schema at {migrate.head()}"

    refused = run_cli(capsys, "db", "downgrade")  # stdin is not a terminal here
    assert refused.code == 1 and "table profiles (2 rows)" in refused.stdout
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "refusing to delete 2 rows" in refused.stderr and "--yes" in refused.stderr
    assert run_cli(capsys, "db", "current").stdout.startswith(f"{migrate.head()} (head)")

    monkeypatch.setattr("api.cli.db._can_ask", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    declined = run_cli(capsys, "db", "downgrade")
    assert declined.code == 1 and "delete 2 rows for good?" in declined.stdout
    assert "nothing changed" in declined.stdout and head not in declined.stdout
    assert run_cli(capsys, "db", "current").stdout.startswith(f"{migrate.head()} (head)")

    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    agreed = run_cli(capsys, "db", "downgrade")
    assert agreed.code == 0, agreed.stderr
    assert f"schema at {migrate.parent(migrate.head())}" in agreed.stdout

    assert run_cli(capsys, "db", "upgrade").code == 0
    add_profile("ada", "zines")
    monkeypatch.setattr("api.cli.db._can_ask", lambda: False)
    forced = run_cli(capsys, "db", "downgrade", "--yes")
    assert forced.code == 0 and "table profiles (1 row)" in forced.stdout


def test_drops_counts_the_rows_a_downgrade_deletes(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    assert migrate.drops(engine, "-1") == [migrate.Drop("profiles", None, 0)]
    assert migrate.drops(engine, "-2")[-2:] == [
        migrate.Drop("taste_models", None, 0),
        migrate.Drop("taste_pairs", None, 0),
    ]
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO style_tokens (id, user_id, model, family, negative, created_at, "
                "record, blob, sequence) VALUES ('t1', 'ada', 'tiny', 'clip_l:32', false, "
                "CURRENT_TIMESTAMP, '{}', :blob, 1)"
            ),
            {"blob": b"x"},
        )
    three_steps = migrate.drops(engine, "-4")
    assert migrate.Drop("style_tokens", None, 1) in three_steps
    assert {d.table for d in three_steps} > {"style_tokens"}  # 0003's tables too
    assert migrate.state(engine).up_to_date  # a rehearsal: nothing here changed
    engine.dispose()


def test_db_revision_with_no_model_changes_writes_nothing_and_says_so(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = migrate.MIGRATIONS / "versions"
    before = sorted(versions.glob("*.py"))
    done = run_cli(capsys, "db", "revision", "-m", "nothing new")
    assert done.code == 0 and "no revision written" in done.stdout, done
    assert sorted(versions.glob("*.py")) == before
