"""Schema migrations (Alembic) for the relational database: upgrade, downgrade, check.

The service refuses a database whose schema is behind this code's migrations and names the
command that fixes it. A database from before migrations (SQLite data dir or PostgreSQL, tables
made by ``create_all``, no ``alembic_version``) is recognised by comparing its tables with the
baseline migration's, brought to the baseline, then upgraded like any other.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, column, func, inspect, select, table, text

from api.tables import metadata
from preference_store.database import NAMING_CONVENTION, make_engine
from preference_store.errors import SchemaError

MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE = "0001"
UPGRADE_HINT = "tastemaker db upgrade"


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # the database's revision; None for an empty or pre-migration database
    head: str  # the newest revision this code knows
    legacy: bool  # tables from before migrations, not stamped yet

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _config() -> Config:
    """Alembic's configuration in code (no alembic.ini): the scripts ship inside ``api``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "m%%(rev)s_%%(slug)s")
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def parent(revision: str) -> str | None:
    """The revision one step before ``revision`` (None for the first)."""
    down = _scripts().get_revision(revision).down_revision
    return down if isinstance(down, str) or down is None else down[0]


def head() -> str:
    heads = _scripts().get_heads()
    if len(heads) != 1:
        raise SchemaError(f"the migrations have {len(heads)} heads {heads}; merge them first")
    return heads[0]


def _run(engine: Engine, action: str, revision: str) -> None:
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def state(engine: Engine) -> SchemaState:
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        tables = set(inspect(connection).get_table_names())
    legacy = current is None and bool(tables & _baseline().tables.keys())
    return SchemaState(current=current, head=head(), legacy=legacy)


@functools.cache
def _baseline() -> MetaData:
    """The baseline migration's tables, reflected from a scratch SQLite database built by it
    (so the check can never drift from the migration)."""
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'baseline.db'}")
        _run(engine, "upgrade", BASELINE)
        reflected = MetaData()
        reflected.reflect(engine)
        engine.dispose()
    reflected.remove(reflected.tables["alembic_version"])
    return reflected


def _adopt_legacy(engine: Engine) -> None:
    """Bring a pre-migration database (tables from ``create_all``) under migrations: check that
    its tables have the baseline's columns (refuse otherwise), run the baseline, which creates
    the tables an older ``create_all`` never made, and give the one nameless constraint of
    those days its baseline name."""
    reflected = _baseline()
    inspector = inspect(engine)
    present = set(inspector.get_table_names()) & reflected.tables.keys()
    for name in sorted(present):
        have = {c["name"] for c in inspector.get_columns(name)}
        want = set(reflected.tables[name].columns.keys())
        if have != want:
            raise SchemaError(
                f"table {name!r} has columns {sorted(have)}, not the pre-migration schema's "
                f"{sorted(want)}; this database was not made by tastemaker, nothing was changed"
            )
    if "onboarding_messages" in present:
        _name_message_order_constraint(engine)
    _run(engine, "upgrade", BASELINE)


def _name_message_order_constraint(engine: Engine) -> None:
    """``create_all`` left UNIQUE (session_id, seq) nameless (SQLite) or named by the server
    (PostgreSQL); the baseline calls it ``uq_onboarding_messages_session_id_seq``."""
    wanted = "uq_onboarding_messages_session_id_seq"
    (found,) = [
        u["name"]
        for u in inspect(engine).get_unique_constraints("onboarding_messages")
        if u["column_names"] == ["session_id", "seq"]
    ]
    if found == wanted:
        return
    with engine.begin() as connection:
        if found is not None:
            connection.execute(
                text(f'ALTER TABLE onboarding_messages RENAME CONSTRAINT "{found}" TO {wanted}')
            )
            return
        # SQLite alters by copying the table; nothing references it, so nothing cascades.
        operations = Operations(MigrationContext.configure(connection))
        with operations.batch_alter_table(
            "onboarding_messages", recreate="always", naming_convention=NAMING_CONVENTION
        ):
            pass


def upgrade(engine: Engine, revision: str = "head") -> SchemaState:
    """Bring the schema to ``revision`` (adopting a pre-migration database first)."""
    if state(engine).legacy:
        _adopt_legacy(engine)
    _run(engine, "upgrade", revision)
    return state(engine)


def downgrade(engine: Engine, revision: str = "-1") -> SchemaState:
    _run(engine, "downgrade", revision)
    return state(engine)


@dataclass(frozen=True)
class Drop:
    """A table (``column`` None) or column a downgrade drops, and the rows whose data goes."""

    table: str
    column: str | None
    rows: int

    def __str__(self) -> str:
        what = (
            f"table {self.table}" if self.column is None else f"column {self.table}.{self.column}"
        )
        return f"{what} ({self.rows} {'row' if self.rows == 1 else 'rows'})"


def drops(engine: Engine, revision: str = "-1") -> list[Drop]:
    """What ``downgrade(engine, revision)`` would drop, with the rows of data each holds here.

    The downgrade is rehearsed on a scratch SQLite database brought to the same revision (so
    the answer is the migrations' own, relative targets like ``-1`` included); the rows are
    counted in ``engine``."""
    current = state(engine).current
    if current is None:
        return []
    with tempfile.TemporaryDirectory() as scratch:
        rehearsal = make_engine(f"sqlite:///{Path(scratch) / 'rehearsal.db'}")
        _run(rehearsal, "upgrade", current)
        before = _columns(rehearsal)
        _run(rehearsal, "downgrade", revision)
        after = _columns(rehearsal)
        rehearsal.dispose()
    found = []
    with engine.connect() as connection:
        for name, columns in sorted(before.items()):
            gone = [None] if name not in after else sorted(columns - after[name])
            for lost in gone:
                query = select(func.count()).select_from(table(name))
                if lost is not None:
                    query = query.where(column(lost).is_not(None))
                found.append(Drop(name, lost, connection.execute(query).scalar_one()))
    return found


def _columns(engine: Engine) -> dict[str, set[str]]:
    inspector = inspect(engine)
    return {
        name: {c["name"] for c in inspector.get_columns(name)}
        for name in inspector.get_table_names()
        if name != "alembic_version"
    }


def check(engine: Engine) -> SchemaState:
    """Raise ``SchemaError`` unless the schema is exactly at this code's head."""
    found = state(engine)
    if found.up_to_date:
        return found
    known = {script.revision for script in _scripts().walk_revisions()}
    if found.current is not None and found.current not in known:
        raise SchemaError(
            f"the database schema is at revision {found.current}, newer than this tastemaker "
            f"knows (head {found.head}); run a newer tastemaker"
        )
    where = "pre-migration tables" if found.legacy else (found.current or "empty")
    raise SchemaError(
        f"the database schema is behind ({where}; this code needs {found.head}): "
        f"run `{UPGRADE_HINT}` first"
    )


def differences(engine: Engine) -> list[object]:
    """What autogenerate would change: empty when the database matches the models."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def new_revision(message: str) -> Path | None:
    """Write a migration for whatever the models have that the migrations lack, autogenerated
    against a scratch SQLite database brought to head. Returns the new file, or None (and
    writes nothing) when the models and the migrations agree: an empty migration is noise."""
    next_id = f"{int(head()) + 1:04d}"
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'scratch.db'}")
        _run(engine, "upgrade", "head")
        if not differences(engine):
            engine.dispose()
            return None
        config = _config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            script = command.revision(config, message=message, autogenerate=True, rev_id=next_id)
        engine.dispose()
    if script is None or isinstance(script, list):
        raise SchemaError("alembic wrote no single revision")
    return Path(script.path)
