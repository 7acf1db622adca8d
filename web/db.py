"""Engine construction and schema creation; nothing is created at import time."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel, create_engine

from auditor.errors import StorageError
from web import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from web.settings import Settings


def make_engine(settings: Settings) -> Engine:
    """Return an engine for ``settings``; SQLite gets WAL, a busy timeout and foreign keys."""
    url = settings.resolved_database_url()
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            raise StorageError("an in-memory SQLite database is not supported; use a file")
        if settings.database_url is None:
            _create_private(settings.ensure_data_dir() / "camaudit.db")
        engine = create_engine(url, connect_args={"check_same_thread": False})
        busy_ms = settings.sqlite_busy_timeout_ms

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            try:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
                cur.execute("PRAGMA foreign_keys=ON")
                # WAL + NORMAL stays consistent after a crash; only the last commit may go.
                cur.execute("PRAGMA synchronous=NORMAL")
            finally:
                cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def _create_private(path: Path) -> None:
    """Create the SQLite file owner-only (0600) before SQLite does, under any umask.

    SQLite gives the -wal and -shm files the database file's mode, so all three stay
    private even when an admin runs ``camaudit user add`` with a login umask of 022.
    An existing file is left alone (its mode is the admin's choice).
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return
    except OSError as exc:  # read-only or full data directory, no permission
        raise StorageError(f"cannot create the database file {path}: {exc}") from exc


def init_db(engine: Engine, auto_migrate: bool = True) -> None:
    """Bring the schema to the shipped head revision, or check that it is there.

    With ``auto_migrate`` the alembic migrations run (an empty database gets every
    table); without, an out-of-date schema raises :class:`StorageError` naming
    ``camaudit db upgrade``. Raises StorageError when the database refuses.
    """
    from web import migrate  # alembic is only loaded when a database is opened

    if auto_migrate:
        migrate.upgrade(engine)
    else:
        migrate.check(engine)


def create_all_tables(engine: Engine) -> None:
    """Create missing tables straight from the models (bench seeding; no alembic)."""
    try:
        SQLModel.metadata.create_all(engine)
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot create the database schema: {exc}") from exc


def open_db(settings: Settings) -> Engine:
    """Return a ready engine: built, schema migrated (or checked; see ``init_db``)."""
    engine = make_engine(settings)
    try:
        init_db(engine, settings.auto_migrate)
    except StorageError:
        engine.dispose()
        raise
    return engine
