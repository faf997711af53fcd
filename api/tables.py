"""The owner of the relational schema: every table of every layer, on one metadata.

Tables are declared beside the code that uses them (on ``preference_store.database.Base``);
this module imports each of those modules by name so the full schema never depends on which
modules a process happened to import. Alembic (``api/migrations``) compares against
``metadata`` here; a module with a new table must be listed below.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from agent import sessions
from jobs import feedback_inbox, rows
from preference_store import accounts, blobs, choices, profiles, styles, versions
from preference_store.database import Base

TABLE_MODULES = (
    accounts,
    versions,
    profiles,
    blobs,
    styles,
    choices,
    sessions,
    rows,
    feedback_inbox,
)

metadata: MetaData = Base.metadata
