"""Onboarding dialogue and attribute extraction (LLM or offline).

Importing the package registers the onboarding tables on the shared SQLAlchemy ``Base`` (the
composition root imports it before ``create_schema``); nothing heavy is imported here.
"""

from agent import sessions as _sessions  # noqa: F401  (registers the tables)
