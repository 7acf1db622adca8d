"""Fixtures for the dashboard tests: a fresh app on a temp SQLite file per test.

pytest runs with ``--import-mode=importlib``, which does not put test folders on
sys.path; the helpers (webenv, scanfactory) are plain modules beside the tests.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from web.app import create_app
from web.crud import create_probe, create_site, create_user
from web.models import ProbeCreate, SiteCreate, UserCreate
from web.settings import Settings

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from webenv import PASSWORDS, Env  # noqa: E402


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", env="test", max_ingest_bytes=2 * 1024 * 1024)


@pytest.fixture
def env(settings: Settings) -> Iterator[Env]:
    app = create_app(settings)
    with Session(app.state.engine) as s:
        site_id = create_site(s, SiteCreate(name="north"), "test").id
        assert site_id is not None
        _, token = create_probe(s, ProbeCreate(name="pi-north", site_id=site_id), "test")
        for role, pw in PASSWORDS.items():
            create_user(s, UserCreate(username=role, password=pw, role=role), "test")
    yield Env(app=app, settings=settings, token=token, site_id=site_id)
    app.state.engine.dispose()
