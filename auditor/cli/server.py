"""`camaudit serve`, `user`, `site`, `probe add|revoke`: the dashboard (owner: web).

Web modules are imported inside the commands so ``camaudit --help`` stays fast and the
scanner works without the web stack loaded.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from web.settings import Settings

DataDir = typer.Option(
    None, "--data-dir", help="Where the database and secret live (default: CAMAUDIT_DATA_DIR, "
    "/var/lib/camaudit for root, ~/.local/share/camaudit otherwise)."
)  # fmt: skip

user_app = typer.Typer(help="Dashboard users.", no_args_is_help=True)
site_app = typer.Typer(help="Sites (a city district, a building, a VLAN).", no_args_is_help=True)
probe_app = typer.Typer(help="Probes that send scans to the dashboard.", no_args_is_help=True)
db_app = typer.Typer(help="The dashboard's database: migrations, re-classification.",
                     no_args_is_help=True)  # fmt: skip


def _settings(data_dir: Path | None) -> Settings:
    from web.settings import Settings

    return Settings(data_dir=data_dir) if data_dir else Settings()


def _engine(data_dir: Path | None) -> Engine:
    from web.db import open_db

    return open_db(_settings(data_dir))


def serve(
    host: str = typer.Option(
        "127.0.0.1", help="Address to listen on (127.0.0.1: this machine only)."
    ),
    port: int = typer.Option(8080, min=1, max=65535, help="TCP port."),
    data_dir: Path | None = DataDir,
) -> None:
    """Run the dashboard (SQLite in the data dir; CAMAUDIT_DATABASE_URL for PostgreSQL)."""
    import uvicorn
    from sqlmodel import Session, func, select

    from web.app import create_app
    from web.models import User

    app = create_app(_settings(data_dir))
    with Session(app.state.engine) as session:
        if session.exec(select(func.count()).select_from(User)).one() == 0:
            typer.secho(
                "No users yet: camaudit user add admin --role admin", fg=typer.colors.YELLOW
            )
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"camaudit dashboard on http://{shown}:{port}/  (Ctrl-C to stop)")
    # proxy_headers: behind a TLS proxy on this host, cookies get Secure from X-Forwarded-Proto.
    uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="info")


@user_app.command("add")
def user_add(
    username: str = typer.Argument(..., help="Login name."),
    role: str = typer.Option("auditor", help="admin (everything) or auditor (read, acknowledge)."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
    data_dir: Path | None = DataDir,
) -> None:
    """Add a dashboard user; the password is prompted twice (never an argument)."""
    from pydantic import ValidationError
    from sqlmodel import Session

    from auditor.errors import ConfigError
    from web.crud import create_user
    from web.models import UserCreate

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        data = UserCreate(username=username, role=role, password=password)
    except ValidationError as exc:
        msgs = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"cannot add user {username!r}: {msgs}") from exc
    with Session(_engine(data_dir)) as session:
        user = create_user(session, data, actor="cli")
    typer.echo(f"user {user.username!r} added with role {user.role}")


@site_app.command("add")
def site_add(
    name: str = typer.Argument(..., help="Site name."),
    description: str = typer.Option("", help="Free text."),
    data_dir: Path | None = DataDir,
) -> None:
    """Add a site."""
    from sqlmodel import Session

    from web.crud import create_site
    from web.models import SiteCreate

    with Session(_engine(data_dir)) as session:
        site = create_site(session, SiteCreate(name=name, description=description), actor="cli")
    typer.echo(f"site {site.name!r} added (id {site.id})")


@probe_app.command("add")
def probe_add(
    name: str = typer.Argument(..., help="Probe name."),
    site: str = typer.Option(..., "--site", help="Site the probe scans."),
    data_dir: Path | None = DataDir,
) -> None:
    """Add a probe and print its token once (it is stored only as a hash)."""
    from sqlmodel import Session

    from web.crud import create_probe, site_by_name
    from web.models import ProbeCreate

    with Session(_engine(data_dir)) as session:
        site_row = site_by_name(session, site)
        assert site_row.id is not None
        probe, token = create_probe(
            session, ProbeCreate(name=name, site_id=site_row.id), actor="cli"
        )
    typer.echo(
        f"probe {probe.name!r} added to site {site!r}. Its token (shown once, keep it safe):"
    )
    typer.echo(token)


@probe_app.command("revoke")
def probe_revoke(
    name: str = typer.Argument(..., help="Probe name."), data_dir: Path | None = DataDir
) -> None:
    """Revoke a probe's token: its next upload gets 401."""
    from sqlmodel import Session

    from web.crud import probe_by_name, revoke_probe

    with Session(_engine(data_dir)) as session:
        revoke_probe(session, probe_by_name(session, name), actor="cli")
    typer.echo(f"probe {name!r} revoked")


@db_app.command("upgrade")
def db_upgrade(data_dir: Path | None = DataDir) -> None:
    """Migrate the database schema to this camaudit's version (safe to repeat).

    Example: CAMAUDIT_DATABASE_URL=postgresql+psycopg://camaudit@/camaudit camaudit db upgrade
    """
    from web.db import make_engine
    from web.migrate import upgrade

    engine = make_engine(_settings(data_dir))
    try:
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        typer.echo(f"database schema already at revision {after}")
    else:
        typer.echo(f"database schema migrated from {before or 'empty'} to {after}")


@db_app.command("status")
def db_status(data_dir: Path | None = DataDir) -> None:
    """Print the schema revision of the database and the one this camaudit needs."""
    from web.db import make_engine
    from web.migrate import current_revision, head_revision

    engine = make_engine(_settings(data_dir))
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    state = "up to date" if current == head else "out of date: run camaudit db upgrade"
    typer.echo(f"database revision {current or 'none'}, camaudit needs {head} ({state})")


@db_app.command("reclassify")
def db_reclassify(
    scan: list[int] = typer.Option(
        None,
        "--scan",
        help="Scan id to redo (repeatable). Default: every scan that holds "
        "some device's latest state.",
    ),
    data_dir: Path | None = DataDir,
) -> None:
    """Re-run fingerprints and rules on stored observations (after an update), without
    rescanning; opens new findings, closes ones that no longer apply, logs each scan.

    Example: camaudit db reclassify --data-dir /var/lib/camaudit --scan 12
    """
    from sqlmodel import Session

    from web.reclassify import reclassify_scan, scans_to_reclassify

    with Session(_engine(data_dir)) as session:
        ids = list(scan) if scan else scans_to_reclassify(session)
        if not ids:
            typer.echo("no stored scans to re-classify")
            return
        for scan_id in ids:
            r = reclassify_scan(session, scan_id, actor="cli")
            typer.echo(
                f"scan {scan_id}: {r.devices} devices ({r.devices_changed} changed), findings "
                f"{r.findings_new} new, {r.findings_closed} closed, {r.findings_kept} kept"
                + (f"; {len(r.unmatched)} addresses had no stored device" if r.unmatched else "")
            )


def register(app: typer.Typer) -> None:
    """Attach the dashboard commands to the root app."""
    app.command("serve")(serve)
    app.add_typer(user_app, name="user")
    app.add_typer(site_app, name="site")
    # `camaudit probe run` (the probe daemon) can join this group: probe_app.command("run").
    app.add_typer(probe_app, name="probe")
    app.add_typer(db_app, name="db")
