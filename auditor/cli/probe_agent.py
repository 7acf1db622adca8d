"""`camaudit probe run|keygen|export|register-key` and `camaudit import` (owner: issue 9).

The probe side (run, keygen, export) wires the probe daemon in ``probes.agent`` to the
same scan pipeline `camaudit scan` uses (``perform_scan``: probes, classify, rules).
The server side (register-key, import) goes through ``web.bundles``. Everything is
imported inside the commands, so a probe never loads the web stack and a server never
loads the scanner.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer

from auditor.errors import ConfigError

if TYPE_CHECKING:
    from auditor.targets import Targets
    from probes.agent.config import ProbeConfig
    from probes.agent.daemon import Scanner

log = logging.getLogger(__name__)

ConfigOpt = typer.Option(
    None,
    "--config",
    "-c",
    help="Probe configuration (TOML). Default: $CAMAUDIT_PROBE_CONFIG or /etc/camaudit/probe.toml.",
)
DataDirOpt = typer.Option(
    None,
    "--data-dir",
    help="The dashboard's data directory (default: CAMAUDIT_DATA_DIR, /var/lib/camaudit for root).",
)

# Job options a server (or a local schedule) may set, and their types. Others are
# ignored with a warning (docs/api.md); a known option with the wrong type fails the job.
JOB_OPTIONS: dict[str, tuple[type, ...]] = {
    "ports": (str, list),
    "timeout": (int, float),
    "concurrency": (int,),
    "arp": (bool,),
    "multicast": (bool,),
    "vendor_udp": (bool,),
    "frame": (bool,),
    "onvif": (bool,),
    "deadline": (int, float),
}


def make_scanner(cfg: ProbeConfig) -> Scanner:
    """Return the function the daemon calls for a scan job (probes, classify, rules)."""
    from rich.console import Console

    from auditor.cli.scan import build_options, perform_scan

    def scanner(targets: Targets, options: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - set(JOB_OPTIONS))
        if unknown:  # docs/api.md: options are free-form; a probe ignores what it lacks
            log.warning("ignoring job options this probe does not know: %s", unknown)
        options = {k: v for k, v in options.items() if k in JOB_OPTIONS}
        for k, v in options.items():
            ok = JOB_OPTIONS[k]
            if not isinstance(v, ok) or (bool not in ok and isinstance(v, bool)):
                raise ConfigError(f"job option {k}={v!r} has the wrong type")
        ports = options.get("ports")
        if isinstance(ports, list):
            ports = ",".join(str(p) for p in ports)
        opts = build_options(
            ports=ports,
            timeout=float(options.get("timeout", 2.5)),
            concurrency=int(options.get("concurrency", 512)),
            arp=options.get("arp", True),
            multicast=options.get("multicast", True),
            vendor_udp=options.get("vendor_udp", False),
            frame=options.get("frame", True),
            onvif=options.get("onvif", True),
            credentials=None,
            warn=log.warning,
        )
        if "deadline" in options:
            opts.deadline = float(options["deadline"])
        if cfg.interfaces:
            from probes import netinfo

            have = [i for i in netinfo.list_interfaces() if i.name in cfg.interfaces]
            missing = set(cfg.interfaces) - {i.name for i in have}
            if missing:
                raise ConfigError(f"interfaces {sorted(missing)} (from {cfg.source}) not found")
            opts.interfaces = have
        result = perform_scan(
            targets, options=opts, console=Console(stderr=True), progress_enabled=False
        )
        data: dict[str, Any] = result.to_dict()
        data["scan"]["probe"] = cfg.name
        data["scan"]["site"] = cfg.site
        return data

    return scanner


def probe_run(
    config: Path | None = ConfigOpt,
    once: bool = typer.Option(
        False, "--once", help="One pull, the due jobs, one flush, then exit (cron, tests)."
    ),
) -> None:
    """Run the probe daemon: pull jobs, scan the allowed targets, ship results via the outbox.

    Results are written to <data_dir>/outbox before they are sent and deleted only when
    the server has them, so an outage or a reboot loses nothing. Stop with SIGTERM/Ctrl-C.
    """
    from probes.agent.config import load_config
    from probes.agent.daemon import Agent

    cfg = load_config(config)
    agent = Agent(cfg, make_scanner(cfg))
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.warning("signal %d: stopping after the current step", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    agent.run(stop, once=once)
    left = len(agent.outbox) + len(agent.unsaved)
    if once and left and cfg.server:
        typer.echo(f"{left} result(s) wait in {agent.outbox.dir} for the server", err=True)


def probe_keygen(
    config: Path | None = ConfigOpt,
    force: bool = typer.Option(False, "--force", help="Replace an existing key."),
) -> None:
    """Create this probe's ed25519 signing key for offline bundles; print the public key.

    Register the printed key on the server: camaudit probe register-key NAME 'ed25519:...'
    """
    from auditor.bundle import generate_keypair, key_id, public_text
    from probes.agent.config import load_config

    cfg = load_config(config)
    pub = generate_keypair(cfg.key_path, overwrite=force)
    typer.echo(f"signing key written to {cfg.key_path} (keep it private); key id {key_id(pub)}")
    typer.echo("register it on the server with:")
    typer.echo(f"  camaudit probe register-key {cfg.name} '{public_text(pub)}'")


def probe_export(
    config: Path | None = ConfigOpt,
    out: Path = typer.Option(Path("camaudit-bundle.tar"), "--out", "-o", help="Bundle file."),
    clear: bool = typer.Option(
        False, "--clear", help="Remove exported scans from the outbox once the bundle verifies."
    ),
) -> None:
    """Write the outbox as a signed bundle to carry off an air-gapped VLAN."""
    from probes.agent.config import load_config
    from probes.agent.export import export_outbox

    cfg = load_config(config)
    n = export_outbox(cfg, out, clear=clear)
    typer.echo(f"wrote {n} scan(s) to {out}; on the server: camaudit import {out.name}")


def probe_register_key(
    name: str = typer.Argument(..., help="Probe name (as in camaudit probe add)."),
    key: str = typer.Argument(..., help="'ed25519:<base64>' as printed by keygen, or a .pub file."),
    data_dir: Path | None = DataDirOpt,
) -> None:
    """Register (or replace) the public key a probe signs its offline bundles with."""
    from web.bundles import register_key
    from web.db import open_db
    from web.settings import Settings

    text = key
    if not key.startswith("ed25519:") and Path(key).is_file():
        text = Path(key).read_text(encoding="ascii")
    engine = open_db(Settings(data_dir=data_dir) if data_dir else Settings())
    kid = register_key(engine, name, text, actor="cli")
    typer.echo(f"key {kid} registered for probe {name!r}")


def import_bundle_cmd(
    bundle: Path = typer.Argument(..., help="A bundle written by camaudit probe export."),
    data_dir: Path | None = DataDirOpt,
) -> None:
    """Verify a probe's signed offline bundle and store its scans (idempotent).

    Exit status: 0 all stored (or already there); 2 the bundle was refused (bad signature,
    unknown key, tampered) or some scans could not be stored.
    """
    from web.bundles import import_bundle
    from web.db import open_db
    from web.settings import Settings

    engine = open_db(Settings(data_dir=data_dir) if data_dir else Settings())
    summary = import_bundle(engine, bundle)
    typer.echo(
        f"bundle from probe {summary.probe!r}: {summary.created} new scan(s), "
        f"{summary.already} already stored, {len(summary.failed)} failed"
    )
    for scan_id, why in summary.failed:
        typer.secho(f"  {scan_id}: {why}", fg=typer.colors.RED, err=True)
    if summary.failed:
        raise typer.Exit(2)


def register_probe_commands(probe_app: typer.Typer) -> None:
    """Add run, keygen, export (probe side) and register-key (server side) to `probe`."""
    probe_app.command("run")(probe_run)
    probe_app.command("keygen")(probe_keygen)
    probe_app.command("export")(probe_export)
    probe_app.command("register-key")(probe_register_key)


def register(app: typer.Typer) -> None:
    """Attach `camaudit import` to the root app and the probe commands to `probe`."""
    from auditor.cli.server import probe_app

    app.command("import")(import_bundle_cmd)
    register_probe_commands(probe_app)


def _standalone() -> typer.Typer:
    """The commands on their own (``python -m auditor.cli.probe_agent``), for tests."""
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)

    @app.callback()
    def _root(verbose: int = typer.Option(0, "--verbose", "-v", count=True)) -> None:
        level = logging.WARNING - 10 * min(verbose, 2)
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    sub = typer.Typer(no_args_is_help=True)
    register_probe_commands(sub)
    app.add_typer(sub, name="probe")
    app.command("import")(import_bundle_cmd)
    return app


if __name__ == "__main__":
    import sys

    from auditor.errors import CamauditError

    try:
        _standalone()()
    except CamauditError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)
