"""Settings, secret handling and the SQLite engine set-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from auditor.errors import ConfigError
from web.app import create_app
from web.db import make_engine
from web.settings import Settings, resolve_secret_key


def test_production_refuses_placeholder_or_missing_secret(tmp_path: Path) -> None:
    for key in (None, "changethis", "short-but-real"):
        with pytest.raises(ConfigError, match="CAMAUDIT_SECRET_KEY"):
            create_app(Settings(data_dir=tmp_path, env="production", secret_key=key))
    good = "k" * 48
    assert (
        resolve_secret_key(Settings(data_dir=tmp_path, env="production", secret_key=good)) == good
    )


def test_development_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "d", env="development")
    first = resolve_secret_key(s)
    assert len(first) >= 32 and resolve_secret_key(s) == first
    assert (tmp_path / "d" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CAMAUDIT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CAMAUDIT_MAX_INGEST_BYTES", "1234")
    s = Settings()
    assert s.data_dir == tmp_path and s.max_ingest_bytes == 1234
    assert s.resolved_database_url() == f"sqlite:///{tmp_path / 'camaudit.db'}"


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(Settings(data_dir=tmp_path, sqlite_busy_timeout_ms=4321))
    with Session(engine) as s:
        assert s.exec(text("PRAGMA journal_mode")).one()[0] == "wal"  # type: ignore[call-overload]
        assert s.exec(text("PRAGMA foreign_keys")).one()[0] == 1  # type: ignore[call-overload]
        assert s.exec(text("PRAGMA busy_timeout")).one()[0] == 4321  # type: ignore[call-overload]
    engine.dispose()
