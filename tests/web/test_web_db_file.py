"""The SQLite database holds password hashes, probe token hashes and every finding: it
is created owner-only whatever the umask of whoever opens it first (docs/deploy.md has
admins run ``camaudit user add`` from a login shell, umask 022)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import text

from web.db import make_engine, open_db
from web.settings import Settings


def test_a_new_database_and_its_wal_are_private_under_umask_022(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        engine = open_db(Settings(data_dir=tmp_path / "data", env="test"))
        try:
            with engine.begin() as conn:
                conn.execute(text("SELECT count(*) FROM site"))
                files = sorted((tmp_path / "data").glob("camaudit.db*"))
                assert [f.name for f in files][:2] == ["camaudit.db", "camaudit.db-shm"]
                for f in files:
                    assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        finally:
            engine.dispose()
    finally:
        os.umask(old)


def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    db = tmp_path / "camaudit.db"
    db.touch(mode=0o640)
    db.chmod(0o640)  # an admin's choice (a backup group, say) is not undone
    make_engine(Settings(data_dir=tmp_path, env="test")).dispose()
    assert stat.S_IMODE(db.stat().st_mode) == 0o640
