"""The dashboard on a real PostgreSQL server (Debian's ``postgresql`` package).

The test starts its own throw-away cluster (initdb + pg_ctl as the ``postgres`` user, a
unix socket in a temp dir, no TCP port) and removes it afterwards. ``make test``
installs ``postgresql`` (TEST_APT_PACKAGES), so in CI nothing here is skipped.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from scanfactory import make_scan
from sqlalchemy import create_engine, text
from sqlmodel import Session

from web import migrate
from web.app import create_app
from web.crud import create_probe, create_site, create_user
from web.models import ProbeCreate, SiteCreate, UserCreate
from web.reclassify import reclassify_scan
from web.settings import Settings

pytestmark = pytest.mark.needs_root


def _pg_bin() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        pytest.fail("PostgreSQL is not installed: apt-get install postgresql (make test does)")
    return Path(found[-1]).parent


def _as_postgres(*cmd: str | Path) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *map(str, cmd)], check=True,
                   capture_output=True, timeout=60)  # fmt: skip


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("starting a PostgreSQL cluster as the postgres user needs root")
    bin_dir = _pg_bin()
    pw = pwd.getpwnam("postgres")
    root = Path(tempfile.mkdtemp(prefix="camaudit-pg-"))
    os.chown(root, pw.pw_uid, pw.pw_gid)
    data, sock = root / "data", root
    _as_postgres(bin_dir / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                 "--no-sync")  # fmt: skip
    _as_postgres(bin_dir / "pg_ctl", "-D", data, "-w", "-l", root / "log", "-o",
                 f"-k {sock} -c listen_addresses='' -c fsync=off", "start")  # fmt: skip
    try:
        admin = create_engine(f"postgresql+psycopg://postgres@/postgres?host={sock}",
                              isolation_level="AUTOCOMMIT")  # fmt: skip
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE camaudit"))
        admin.dispose()
        yield f"postgresql+psycopg://postgres@/camaudit?host={sock}"
    finally:
        _as_postgres(bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_migrations_reach_the_models_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, env="test", database_url=pg_url, auto_migrate=False)
    from auditor.errors import StorageError

    with pytest.raises(StorageError, match="camaudit db upgrade"):
        create_app(settings)
    app = create_app(settings.model_copy(update={"auto_migrate": True}))
    engine = app.state.engine
    try:
        assert engine.dialect.name == "postgresql"
        assert migrate.current_revision(engine) == migrate.head_revision()
        assert migrate.schema_diff(engine) == []
        with Session(engine) as s:
            site_id = create_site(s, SiteCreate(name="north"), "test").id
            assert site_id is not None
            _, token = create_probe(s, ProbeCreate(name="pi", site_id=site_id), "test")
            create_user(s, UserCreate(username="admin", password="admin-password-1",
                                      role="admin"), "test")  # fmt: skip
        c = TestClient(app, base_url="http://127.0.0.1")
        auth = {"Authorization": f"Bearer {token}"}
        scan = make_scan("pg-1", n_devices=20, findings_per_device=3)
        first = c.post("/api/ingest", json=scan, headers=auth)
        assert first.status_code == 201 and first.json()["devices_new"] == 20
        assert c.post("/api/ingest", json=scan, headers=auth).json()["created"] is False
        login = c.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        c.post("/login", data={"username": "admin", "password": "admin-password-1",
                               "csrf_token": login})  # fmt: skip
        assert c.get("/api/devices?q=lorex").json()["total"] == 3  # ILIKE on PostgreSQL
        assert c.get("/api/overview").json()["open_findings"] == 60
        assert c.get("/api/findings?severity=critical").json()["total"] == 20
        for path in ("/", "/devices", "/devices/1", "/findings", "/scans", "/scans/1",
                     "/reports/audit.html", "/exports/findings.csv"):  # fmt: skip
            assert c.get(path).status_code == 200, path
        with Session(engine) as s:
            r = reclassify_scan(s, first.json()["scan_id"])
        assert r.devices == 20
    finally:
        engine.dispose()
