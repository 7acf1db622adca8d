"""Alembic migrations: empty -> head equals the models; old databases are upgraded."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from auditor.cli import app as cli
from auditor.errors import StorageError
from web import migrate
from web.app import create_app
from web.db import make_engine
from web.settings import Settings


def test_upgrade_from_empty_matches_the_models(tmp_path: Path) -> None:
    engine = make_engine(Settings(data_dir=tmp_path))
    try:
        assert migrate.current_revision(engine) is None
        before, after = migrate.upgrade(engine)
        assert (before, after) == (None, migrate.head_revision())
        assert migrate.schema_diff(engine) == []  # autogenerate would write nothing
        assert migrate.upgrade(engine) == (after, after)  # repeatable
        migrate.check(engine)
    finally:
        engine.dispose()


def test_database_made_before_migrations_is_stamped_and_upgraded(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, env="test")
    engine = make_engine(settings)
    migrate.upgrade(engine, migrate.BASELINE)
    with engine.begin() as conn:  # what create_all left: the tables, no version table
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("INSERT INTO site (name, description, created_at) VALUES ('old', '', 1)"))
    engine.dispose()
    app = create_app(settings)
    try:
        eng = app.state.engine
        assert migrate.current_revision(eng) == migrate.head_revision()
        assert inspect(eng).has_table("schedule") and migrate.schema_diff(eng) == []
        with eng.connect() as conn:
            assert conn.execute(text("SELECT name FROM site")).scalar_one() == "old"  # kept
    finally:
        app.state.engine.dispose()


def test_without_auto_migrate_an_old_schema_refuses_to_start(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, env="test", auto_migrate=False)
    with pytest.raises(StorageError, match=r"camaudit db upgrade"):
        create_app(settings)
    result = CliRunner().invoke(cli, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0 and "migrated from empty to" in result.output
    status = CliRunner().invoke(cli, ["db", "status", "--data-dir", str(tmp_path)])
    assert "up to date" in status.output
    app = create_app(settings)  # now it starts
    app.state.engine.dispose()
