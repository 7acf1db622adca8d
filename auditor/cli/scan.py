"""`camaudit scan`: a one-shot audit of the targets the user names.

Wires the probes (network I/O) to the classifier and rules (pure logic) and renders the
result: a live progress display on stderr, a table on stdout, JSON and HTML reports,
an optional upload to a dashboard, and an exit code for pipelines (``--fail-on``).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from auditor.errors import CamauditError, ConfigError, TargetError
from auditor.model import ScanResult, Severity
from auditor.targets import DEFAULT_MAX_HOSTS, Targets, parse_targets

SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}

STAGE_LABEL = {
    "discover": "Discovering hosts",
    "ports": "Scanning ports",
    "identify": "Identifying devices",
}


def _parse_ports(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    ports: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise TargetError(
                f"--ports: {part!r} is not a port or range (e.g. 80,554,8000-8010)"
            ) from None
        if not (0 < a <= b <= 65535):
            raise TargetError(f"--ports: {part!r} is outside 1-65535")
        ports.extend(range(a, b + 1))
    return tuple(sorted(set(ports)))


def perform_scan(
    targets: Targets,
    *,
    options: Any,
    console: Console | None = None,
    progress_enabled: bool = True,
    policy: Any = None,
) -> ScanResult:
    """Run probes on ``targets``, classify, apply rules (and the site ``policy``, from
    :func:`auditor.policy.load_policy`); return the :class:`ScanResult`."""
    import datetime as dt

    from auditor.classify import classify
    from auditor.policy import apply_policy
    from probes.engine import run_scan

    started = time.time()
    console = console or Console(stderr=True)
    prog = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not progress_enabled,
    )
    tasks: dict[str, Any] = {}

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = prog.add_task(STAGE_LABEL.get(stage, stage), total=total)
        prog.update(tasks[stage], completed=done, total=total)

    with prog:
        observations = asyncio.run(
            run_scan(list(targets.hosts), list(targets.networks), options, on_progress)
        )
    # Belt and braces: nothing outside what the user named makes it into a report.
    observations = [o for o in observations if o.ip in targets]
    devices = classify(observations)
    apply_policy(devices, policy, dt.date.today())  # no policy: every rule, no overrides
    finished = time.time()
    stats = {
        "hosts_targeted": len(targets.hosts),
        "devices": len(devices),
        "cameras": sum(1 for d in devices if d.device_type == "camera"),
        "observations": len(observations),
        "findings": sum(len(d.findings) for d in devices),
    }
    return ScanResult(
        scan_id=str(uuid.uuid4()),
        targets=[str(n) for n in targets.networks],
        started=started,
        finished=finished,
        devices=devices,
        observations=observations,
        stats=stats,
    )


def render_table(result: ScanResult, console: Console) -> None:
    """Print the inventory and a findings summary as rich tables."""
    table = Table(title=f"camaudit: {len(result.devices)} devices", show_lines=False)
    for col in (
        "IP",
        "MAC",
        "Type",
        "Vendor",
        "Real maker",
        "Model",
        "Firmware",
        "Services",
        "Findings",
    ):
        table.add_column(col, overflow="fold")

    def _ipkey(d: Any) -> tuple[int, ...]:
        return tuple(int(x) for x in d.ip.split("."))

    for d in sorted(result.devices, key=_ipkey):
        worst = max((f.severity for f in d.findings), default=None)
        fcell = str(len(d.findings)) if d.findings else "-"
        if worst is not None:
            fcell = f"[{SEVERITY_STYLE[str(worst)]}]{len(d.findings)} ({worst})[/]"
        oem = d.oem or "-"
        if d.oem and d.vendor and d.oem.lower() != d.vendor.lower():
            oem = f"[bold magenta]{d.oem}[/]"
        services = ",".join(
            f"{s.port}/{s.name}" + ("*" if s.verified_stream else "") for s in d.services
        )
        table.add_row(
            d.ip,
            d.mac or "-",
            d.device_type,
            d.vendor or "-",
            oem,
            d.model or "-",
            d.firmware or "-",
            services or "-",
            fcell,
        )
    console.print(table)
    counts: dict[str, int] = {}
    for d in result.devices:
        for f in d.findings:
            counts[f.rule + "\t" + str(f.severity) + "\t" + f.title] = (
                counts.get(f.rule + "\t" + str(f.severity) + "\t" + f.title, 0) + 1
            )
    if counts:
        ft = Table(title="Findings by rule")
        for col in ("Severity", "Rule", "Title", "Devices"):
            ft.add_column(col)
        for key, n in sorted(
            counts.items(), key=lambda kv: (-Severity.parse(kv[0].split("\t")[1]), kv[0])
        ):
            rule, sev, title = key.split("\t")
            ft.add_row(f"[{SEVERITY_STYLE[sev]}]{sev}[/]", rule, title, str(n))
        console.print(ft)
    dur = result.finished - result.started
    console.print(
        f"[dim]{result.stats.get('hosts_targeted', 0)} addresses probed, "
        f"{len(result.devices)} devices, {result.stats.get('cameras', 0)} cameras, "
        f"{result.stats.get('findings', 0)} findings in {dur:.1f}s. "
        "'*' = stream proven by received media.[/]"
    )


def write_scan_json(doc: dict[str, Any], fh: TextIO) -> None:
    """Write a scan document with one device or observation per line.

    Streamed (a 250-camera scan is ~5 MB of JSON, never held as one string), readable
    line by line (grep, diff, ``jq``), and written by the C encoder: indenting the whole
    document would take the pure-Python one, four times slower.
    """
    fh.write("{")
    for n, (key, value) in enumerate(doc.items()):
        fh.write(("," if n else "") + "\n" + json.dumps(key) + ": ")
        if isinstance(value, list):
            fh.write("[")
            for i, item in enumerate(value):
                fh.write(("," if i else "") + "\n  " + json.dumps(item))
            fh.write("\n]" if value else "]")
        else:
            fh.write(json.dumps(value))
    fh.write("\n}\n")


def write_outputs(
    result: ScanResult,
    json_path: Path | None,
    html_path: Path | None,
    *,
    sarif_path: Path | None = None,
    junit_path: Path | None = None,
    csv_path: Path | None = None,
    threshold: Severity = Severity.HIGH,
) -> list[Path]:
    """Write the requested reports (JSON, HTML, SARIF, JUnit, CSV); return their paths."""
    from auditor.export import to_csv, to_junit, to_sarif
    from auditor.report import render_html

    written = []
    for path, render in (
        (sarif_path, lambda: json.dumps(to_sarif(result), indent=2)),
        (junit_path, lambda: to_junit(result, threshold)),
        (csv_path, lambda: to_csv(result)),
    ):
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(), encoding="utf-8")
            written.append(path)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = json_path.with_suffix(json_path.suffix + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            write_scan_json(result.to_dict(), fh)
        tmp.replace(json_path)
        written.append(json_path)
    if html_path:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(render_html(result), encoding="utf-8")
        written.append(html_path)
    return written


def build_options(
    *,
    ports: str | None,
    timeout: float,
    concurrency: int,
    arp: bool,
    multicast: bool,
    vendor_udp: bool,
    frame: bool,
    all_frames: bool = False,
    ping: bool = True,
    discover_only: bool = False,
    onvif: bool,
    credentials: Path | None,
    warn: Callable[[str], None],
    check_default_creds: bool = False,
) -> Any:
    """Translate CLI flags to the probe engine's options."""
    port_list = _parse_ports(ports)  # before importing the network stack: fail fast
    from probes.engine import ScanOptions

    kwargs: dict[str, Any] = {
        "timeout": timeout,
        "concurrency": concurrency,
        "arp": arp,
        "multicast": multicast,
        "vendor_udp": vendor_udp,
        "decode_frame": frame,
        "decode_all_frames": all_frames,
        "ping": ping,
        "discover_only": discover_only,
        "check_default_creds": check_default_creds,
        "onvif": onvif,
    }
    if port_list:
        kwargs["ports"] = port_list
    if credentials:
        from auditor.credentials import load_credentials

        cs = load_credentials(credentials)
        for w in cs.warnings:
            warn(w)
        kwargs["credentials"] = [(c.username, c.password) for c in cs.credentials]
    return ScanOptions(**kwargs)


def register(app: typer.Typer) -> None:
    """Attach `camaudit scan` to the root app."""

    @app.command(
        "scan",
        help=(
            "Audit the hosts and networks you name: discovery (ARP, WS-Discovery, TCP), "
            "identification (HTTP, RTSP with a real media check, ONVIF), real maker behind "
            "OEM labels, and findings.\n\n"
            "Examples:\n\n"
            "  camaudit scan 198.18.0.0/22 --json out.json --html out.html\n\n"
            "  camaudit scan 10.20.0.10-250 --credentials site-creds.toml --fail-on high\n\n"
            "Exit status: 0 ok; 1 a finding at or above --fail-on; 2 an error."
        ),
    )
    def scan(
        targets: list[str] = typer.Argument(
            None,
            metavar="TARGET...",
            help="Hosts, CIDRs (198.18.0.0/24) or ranges (198.18.0.10-20).",
        ),
        json_out: Path | None = typer.Option(None, "--json", help="Write the full result as JSON."),
        sarif_out: Path | None = typer.Option(
            None, "--sarif", help="Write findings as SARIF 2.1.0 (code-scanning dashboards)."
        ),
        junit_out: Path | None = typer.Option(
            None, "--junit", help="Write JUnit XML (a failure per finding at/above --fail-on)."
        ),
        csv_out: Path | None = typer.Option(None, "--csv", help="Write findings as CSV."),
        policy_file: Path | None = typer.Option(
            None,
            "--policy",
            help="Site policy TOML: approved inventory, firmware floors, allowed destinations, "
            "accepted risks (see docs/examples/site-policy.toml).",
        ),
        check_default_creds: bool = typer.Option(
            False,
            "--check-default-creds",
            help="Opt-in: try a few documented vendor default passwords (max 3 per device, "
            "stops at lockout signs; nothing found is stored in clear).",
        ),
        html_out: Path | None = typer.Option(
            None, "--html", help="Write a self-contained HTML report."
        ),
        fail_on: str | None = typer.Option(
            None,
            "--fail-on",
            help="Exit 1 if any finding is at or above: info, low, medium, high, critical.",
        ),
        server: str | None = typer.Option(
            None, "--server", help="Dashboard URL to upload the result to."
        ),
        token: str | None = typer.Option(
            None,
            "--token",
            envvar="CAMAUDIT_TOKEN",
            help="Probe token for --server (or $CAMAUDIT_TOKEN).",
        ),
        credentials: Path | None = typer.Option(
            None,
            "--credentials",
            help="TOML file of camera credentials to try (chmod 600). Opt-in.",
        ),
        ports: str | None = typer.Option(
            None, "--ports", help="TCP ports to scan (default: camera ports)."
        ),
        timeout: float = typer.Option(
            2.5, "--timeout", min=0.1, help="Per-operation timeout, seconds."
        ),
        concurrency: int = typer.Option(
            2048,
            "--concurrency",
            min=1,
            help="Parallel connection attempts at most (bounded by the open-file limit).",
        ),
        arp: bool = typer.Option(
            True, "--arp/--no-arp", help="ARP sweep on directly connected targets."
        ),
        multicast: bool = typer.Option(
            True,
            "--multicast/--no-multicast",
            help="WS-Discovery multicast on the targets' segment.",
        ),
        vendor_udp: bool = typer.Option(
            False,
            "--vendor-udp",
            help="Vendor UDP discovery (SADP, Dahua, Xiongmai) on the segment.",
        ),
        frame: bool = typer.Option(
            True,
            "--frame/--no-frame",
            help="Decode one frame (hash kept, pixels dropped) of streams open without a password.",
        ),
        all_frames: bool = typer.Option(
            False, "--all-frames", help="Also decode a frame of authenticated streams (slower)."
        ),
        ping: bool = typer.Option(
            True,
            "--ping/--no-ping",
            help="Find live hosts first (ARP, TCP ping, WS-Discovery); --no-ping: every address.",
        ),
        discover_only: bool = typer.Option(
            False,
            "--discover-only",
            help="Only list live hosts, like nmap -sn: ARP on the local segment, TCP ping "
            "beyond it; no WS-Discovery, port scan or identification.",
        ),
        onvif: bool = typer.Option(True, "--onvif/--no-onvif", help="Query ONVIF device services."),
        max_hosts: int = typer.Option(
            DEFAULT_MAX_HOSTS, "--max-hosts", help="Refuse larger target sets."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display or table."),
    ) -> None:
        err = Console(stderr=True)
        out = Console()
        try:
            threshold = Severity.parse(fail_on) if fail_on else None
        except ValueError as exc:
            err.print(f"[red]error:[/] --fail-on: {exc}")
            raise typer.Exit(2) from None
        if server and not token:
            err.print("[red]error:[/] --server needs a probe token: --token or $CAMAUDIT_TOKEN")
            raise typer.Exit(2)
        try:
            if discover_only and not ping:
                raise ConfigError("--discover-only finds live hosts: it cannot be --no-ping")
            tgt = parse_targets(targets or [], max_hosts=max_hosts)
            policy = None
            if policy_file is not None:
                from auditor.policy import load_policy

                policy = load_policy(policy_file)
            opts = build_options(
                ports=ports,
                timeout=timeout,
                concurrency=concurrency,
                arp=arp,
                multicast=multicast,
                vendor_udp=vendor_udp,
                frame=frame,
                all_frames=all_frames,
                ping=ping,
                discover_only=discover_only,
                onvif=onvif,
                credentials=credentials,
                warn=lambda m: err.print(f"[yellow]warning:[/] {m}"),
                check_default_creds=check_default_creds,
            )
            if not quiet:
                err.print(
                    f"[bold]camaudit[/] scanning {len(tgt.hosts)} addresses in "
                    + ", ".join(str(n) for n in tgt.networks)
                )
            result = perform_scan(
                tgt, options=opts, console=err, progress_enabled=not quiet, policy=policy
            )
            for p in write_outputs(
                result,
                json_out,
                html_out,
                sarif_path=sarif_out,
                junit_path=junit_out,
                csv_path=csv_out,
                threshold=threshold or Severity.HIGH,
            ):
                err.print(f"wrote {p}")
            if server:
                from web.client import upload_scan

                reply = upload_scan(server, token or "", result.to_dict(), timeout=60.0)
                err.print(f"uploaded to {server}: {reply}")
        except CamauditError as exc:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
        if not quiet:
            render_table(result, out)
        if threshold is not None:
            hits = [f for d in result.devices for f in d.findings if f.severity >= threshold]
            if hits:
                if not quiet:
                    err.print(f"[red]{len(hits)} finding(s) at or above {threshold}[/]")
                raise typer.Exit(1)
        if os.environ.get("CAMAUDIT_DEBUG_STATS"):
            err.print(result.stats)
