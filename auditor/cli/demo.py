"""`camaudit demo` (what `make demo` runs): lab, full audit, dashboard.

1. starts the simulated camera lab (restarting it if one is already up),
2. audits it the way a city admin would (explicit targets, the site's credentials file),
3. writes the JSON and HTML reports,
4. starts the dashboard on SQLite, registers a site and a probe, uploads the scan with the
   probe's token over HTTP, creates an admin whose password is printed once,
5. serves until Ctrl-C, then removes the lab.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

DEFAULT_DIR = Path("out/demo")


def _serve_in_thread(app: Any, host: str, port: int) -> tuple[Any, threading.Thread]:
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="dashboard", daemon=True)
    thread.start()
    return server, thread


def _wait_healthy(url: str, timeout: float = 20.0) -> None:
    import httpx

    from auditor.errors import CamauditError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:  # not listening yet
            pass
        time.sleep(0.1)
    raise CamauditError(f"the dashboard did not answer on {url} within {timeout:.0f} s")


def run_demo(cameras: int, seed: int, host: str, port: int, out_dir: Path, serve: bool) -> int:
    """Run the demo; return the process exit status."""
    from camlab import control
    from camlab.generate import LAB_PASSWORD

    from auditor.cli.scan import build_options, perform_scan, render_table, write_outputs
    from auditor.targets import parse_targets
    from web.app import create_app
    from web.client import upload_scan
    from web.crud import create_probe, create_site, create_user
    from web.models import ProbeCreate, SiteCreate, UserCreate
    from web.settings import Settings

    con = Console(stderr=True)

    def _stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C: the lab is removed

    signal.signal(signal.SIGTERM, _stop)
    if os.geteuid() != 0:
        con.print(
            "[red]error:[/] the demo builds a simulated network with namespaces: run it as root"
        )
        return 2
    if control.status().get("up"):
        con.print("[yellow]a lab is already up: restarting it for the demo[/]")
        control.down()
    t0 = time.perf_counter()
    st = control.up(cameras=cameras, seed=seed)
    st = control.status()
    con.print(
        f"[bold]lab up[/] {len(st['devices'])} devices on {st['subnet']} and "
        f"{', '.join(st['routed_subnets'])} in {time.perf_counter() - t0:.1f}s"
    )
    server = None
    try:
        # The operator's credentials file: the demo plays the city admin who set the
        # cameras' password (the lab's documented one). Private, like a real one.
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True)
        creds = out_dir / "credentials.toml"
        creds.write_text(f'[[credential]]\nusername = "admin"\npassword = "{LAB_PASSWORD}"\n')
        creds.chmod(0o600)
        targets = parse_targets([st["subnet"], *st["routed_subnets"]])
        opts = build_options(
            ports=None, timeout=2.5, concurrency=512, arp=True, multicast=True,
            vendor_udp=False, frame=True, onvif=True, credentials=creds,
            warn=lambda m: con.print(f"[yellow]warning:[/] {m}"),
        )  # fmt: skip
        con.print(f"[bold]scanning[/] {len(targets.hosts)} addresses")
        result = perform_scan(targets, options=opts, console=con)
        render_table(result, Console())
        written = write_outputs(result, out_dir / "scan.json", out_dir / "report.html")

        settings = Settings(data_dir=out_dir / "data")
        app = create_app(settings)
        from sqlmodel import Session

        password = secrets.token_urlsafe(12)
        with Session(app.state.engine) as session:
            site = create_site(session, SiteCreate(name="demo-city"), actor="demo")
            assert site.id is not None
            _, token = create_probe(
                session, ProbeCreate(name="demo-probe", site_id=site.id), "demo"
            )
            create_user(
                session, UserCreate(username="admin", role="admin", password=password), "demo"
            )
        server, thread = _serve_in_thread(app, host, port)
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        url = f"http://{shown}:{port}/"
        _wait_healthy(url)
        reply = upload_scan(url, token, result.to_dict(), timeout=60.0)
        con.print(f"[bold]ingested[/] scan {reply.get('scan_id', '')} with the probe token")
        con.print()
        con.print(f"  reports:    {', '.join(str(p) for p in written)}")
        con.print(f"  dashboard:  [bold]{url}[/]")
        con.print("  login:      admin")
        con.print(
            f"  password:   [bold]{password}[/]   (shown once; stored only as an argon2 hash)"
        )
        nets = " ".join(str(n) for n in targets.networks)
        con.print("  lab truth:  camaudit lab status --json")
        con.print(f"  scan again: camaudit scan {nets}")
        if not serve:
            return 0
        con.print("\n[dim]Serving. Ctrl-C stops the dashboard and removes the lab.[/]")
        while thread.is_alive():
            thread.join(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if server is not None:
            server.should_exit = True
        control.down()
        con.print("[dim]lab removed[/]")


def register(app: typer.Typer) -> None:
    @app.command(
        "demo",
        help=(
            "Start the simulated camera lab, audit it, and serve the dashboard with the "
            "result (needs root). Ctrl-C stops everything and removes the lab."
        ),
    )
    def demo(
        cameras: int = typer.Option(24, "--cameras", min=1, max=1000, help="Simulated cameras."),
        seed: int = typer.Option(1, "--seed", help="Lab seed (same seed, same lab)."),
        host: str = typer.Option("127.0.0.1", "--host", help="Dashboard address."),
        port: int = typer.Option(8080, "--port", min=1, max=65535, help="Dashboard port."),
        out_dir: Path = typer.Option(DEFAULT_DIR, "--out", help="Reports and demo database."),
        serve: bool = typer.Option(True, "--serve/--no-serve", help="Keep serving after the scan."),
    ) -> None:
        raise typer.Exit(run_demo(cameras, seed, host, port, out_dir, serve))
