"""Schema migrations (alembic, scripts in ``web/migrations``) for SQLite and PostgreSQL.

The dashboard upgrades its own database when it starts (``CAMAUDIT_AUTO_MIGRATE``, on by
default: an appliance has one server and nobody to run a separate step). With it off,
the server refuses to start on an out-of-date schema and names the command that fixes
it (``camaudit db upgrade``), which is what a deployment with several server processes
on one PostgreSQL database wants.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel

from auditor.errors import StorageError
from web import models  # noqa: F401  (registers the tables on SQLModel.metadata)

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The revision whose schema equals what `SQLModel.metadata.create_all` made before
# migrations existed: such a database is stamped with it, then upgraded.
BASELINE = "0001"


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """Return the newest revision shipped with this camaudit."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "web/migrations has no revisions"
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the database's revision (None: empty or never migrated); StorageError."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot read the schema version: {exc}") from exc


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Migrate the database to ``revision``; return (before, after). Raise StorageError."""
    try:
        with engine.begin() as conn:
            before = MigrationContext.configure(conn).get_current_revision()
            cfg = _config(conn)
            if before is None and inspect(conn).has_table("device"):
                log.warning("database predates migrations; marking it as revision %s", BASELINE)
                command.stamp(cfg, BASELINE)
            command.upgrade(cfg, revision)
            after = MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot migrate the database schema: {exc}") from exc
    if before != after:
        log.info("database schema migrated from %s to %s", before or "empty", after)
    return before, after or ""


def check(engine: Engine) -> None:
    """Raise StorageError unless the database is at the head revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise StorageError(
            f"the database schema is at revision {current or 'none (empty database)'}, this "
            f"camaudit needs {head}: run `camaudit db upgrade` (or set CAMAUDIT_AUTO_MIGRATE=1)"
        )


def schema_diff(engine: Engine) -> list[Any]:
    """Return alembic's differences between the database and the models ([] = in sync)."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, SQLModel.metadata))
