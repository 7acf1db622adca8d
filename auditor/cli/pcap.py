"""`camaudit pcap` and `camaudit watch`: who talks to whom, from captures or a mirror port.

Both feed the same flow table (``probes.flows``), turn it into ``flows`` observations,
classify the devices, and run every rule under the site policy given on the command
line (``--site-dns``, ``--site-ntp``, ``--vms``, ``--allow``, ``--local``,
``--isolated``, ``--baseline``). Output: a per-device table of destinations, the
findings, and what was skipped or dropped, never hidden.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from auditor.errors import CamauditError
from auditor.model import Observation, ScanResult, Severity

SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}
CATEGORY_LABEL = {
    "p2p": "P2P",
    "cloud": "cloud",
    "stun": "STUN",
    "ntp": "NTP",
    "dns": "DNS",
    "ddns": "DDNS",
    "update": "update",
    "telemetry": "telemetry",
}


def build_policy(
    *,
    site_dns: list[str] | None,
    site_ntp: list[str] | None,
    vms: list[str] | None,
    allow: list[str] | None,
    local: list[str] | None,
    isolated: bool,
    baseline: Path | None,
    policy_file: Path | None = None,
    upload: dict[str, str | None] | None = None,
) -> tuple[Any, Any]:
    """Return (traffic policy, site policy file or None) for the options.

    The traffic policy (:class:`auditor.traffic.SitePolicy`) is the file's ``[network]``
    section, when a file is given, extended by the command-line options. ``upload``
    holds ``burst``/``window``/``quiet``/``timezone`` option values (None: not given).
    """
    from auditor.traffic import DEFAULT_LOCAL, SitePolicy, load_baseline
    from auditor.uploads import UploadPolicy, merge_options

    site = None
    resolvers: list[str] = []
    ntp: list[str] = []
    vms_: list[str] = []
    allowed: list[str] = []
    nets: list[str] = list(DEFAULT_LOCAL)
    if policy_file is not None:
        from auditor.policy import load_policy

        site = load_policy(policy_file)
        resolvers = list(site.allowed_resolvers)
        ntp = list(site.allowed_ntp)
        vms_ = list(site.allowed_vms)
        allowed = list(site.allowed_destinations)
        nets += [n for n in site.local_networks if n not in nets]
        isolated = isolated or site.cameras_isolated
    traffic = SitePolicy(
        resolvers=resolvers + list(site_dns or []),
        ntp_servers=ntp + list(site_ntp or []),
        vms=vms_ + list(vms or []),
        allowed=allowed + list(allow or []),
        local_networks=nets + [n for n in local or [] if n not in nets],
        isolated=isolated,
        baseline=load_baseline(baseline) if baseline else None,
        uploads=merge_options(site.uploads if site else UploadPolicy(), **(upload or {})),
    )
    return traffic, site


def analyse(
    observations: list[Observation],
    policy: Any,
    sources: list[str],
    started: float,
    site: Any = None,
) -> ScanResult:
    """Classify the devices in ``observations``, run every rule under ``policy``.

    With a site policy file (``site``), its other sections (inventory, severity
    overrides, accepted risks) apply too, through ``auditor.policy.apply_policy``.
    """
    import auditor.rules.traffic  # noqa: F401 (registers the traffic rules)
    from auditor.classify import classify
    from auditor.rules import evaluate
    from auditor.traffic import use_baseline, use_policy

    device_obs = [o for o in observations if o.data.get("kind") != "summary"]
    devices = classify(device_obs)
    if site is not None:
        import dataclasses
        import datetime as dt

        from auditor.policy import apply_policy

        merged = dataclasses.replace(
            site,
            allowed_resolvers=tuple(policy.resolvers),
            allowed_ntp=tuple(policy.ntp_servers),
            allowed_vms=tuple(policy.vms),
            allowed_destinations=tuple(policy.allowed),
            local_networks=tuple(policy.local_networks),
            cameras_isolated=policy.isolated,
            uploads=policy.uploads,
        )
        with use_baseline(policy.baseline):
            apply_policy(devices, merged, dt.date.today())
    else:
        with use_policy(policy):
            evaluate(devices)
    summaries = [o.data for o in observations if o.data.get("kind") == "summary"]
    stats: dict[str, Any] = {
        "devices": len(devices),
        "findings": sum(len(d.findings) for d in devices),
        "policy": policy.to_dict(),
        "policy_file": getattr(site, "source", None),
        "capture": summaries,
    }
    return ScanResult(
        scan_id=str(uuid.uuid4()),
        targets=sources,
        started=started,
        finished=time.time(),
        devices=devices,
        observations=observations,
        stats=stats,
    )


def render(result: ScanResult, console: Console, policy: Any, all_flows: bool = False) -> None:
    """Print per-device destinations, findings, and the skip/drop summary."""
    from auditor.traffic import assess, human_bytes, timestamp

    table = Table(title="Destinations per device (outbound to the internet first)")
    for col in ("Device", "", "Destination", "Service", "Pkts", "Bytes", "First seen", "Verdict"):
        table.add_column(col, overflow="fold")
    hidden = 0
    for dev in result.devices:
        t = assess(dev, policy)
        views = sorted(t.flows, key=lambda v: (not v.internet, not v.outbound, v.name or ""))
        label = f"{dev.device_type if dev.device_type != 'unknown' else 'device'} {dev.ip}"
        if dev.mac:
            label += f"\n[dim]{dev.mac}[/]"
        first_row = True
        for v in views:
            if not all_flows and not v.internet:
                hidden += 1
                continue
            f = v.flow
            dest = f"{v.name} ({f.get('peer')})" if v.name else str(f.get("peer"))
            port = f.get("peer_port") if v.outbound else f.get("local_port")
            if v.allowed:
                verdict = f"[green]allowed: {v.allowed}[/]"
            elif v.matches:
                m = v.matches[0]
                cat = CATEGORY_LABEL.get(m.endpoint.category, m.endpoint.category)
                verdict = f"[red]{cat}[/] {m.endpoint.vendor} [dim]{m.endpoint.id} by {m.how}[/]"
            else:
                verdict = "internet" if v.internet else "local"
            table.add_row(
                label if first_row else "",
                "→" if v.outbound else "←",
                dest,
                f"{str(f.get('proto')).upper()} {port}",
                str(int(f.get("packets_out") or 0) + int(f.get("packets_in") or 0)),
                human_bytes(int(f.get("bytes_out") or 0) + int(f.get("bytes_in") or 0)),
                timestamp(f.get("first_seen")),
                verdict,
            )
            first_row = False
    console.print(table)
    if hidden:
        console.print(f"[dim]{hidden} flows inside the site not shown (--all-flows shows them)[/]")
    rows = [(d, f) for d in result.devices for f in d.findings]
    if rows:
        ft = Table(title="Findings")
        for col in ("Severity", "Rule", "Device", "Title", "Evidence"):
            ft.add_column(col, overflow="fold")
        for d, fd in sorted(rows, key=lambda r: (-int(r[1].severity), r[1].rule, r[0].ip)):
            sev = str(fd.severity)
            first = fd.evidence[0].detail if fd.evidence else ""
            more = f" (+{len(fd.evidence) - 1})" if len(fd.evidence) > 1 else ""
            ft.add_row(f"[{SEVERITY_STYLE[sev]}]{sev}[/]", fd.rule, d.ip, fd.title, first + more)
        console.print(ft)
    else:
        console.print("[green]No traffic findings.[/]")
    for cap in result.stats.get("capture", []):
        console.print(skip_line(cap))


def skip_line(cap: dict[str, Any]) -> str:
    """Return one line summarising what a capture source lost or skipped."""
    skipped = {k: v for k, v in (cap.get("skipped") or {}).items() if v}
    parts = [f"{cap.get('source')}: {cap.get('packets', 0)} packets, {cap.get('flows', 0)} flows"]
    parts.append(
        "skipped " + ", ".join(f"{v} {k}" for k, v in skipped.items()) if skipped else "0 skipped"
    )
    if cap.get("unknown_linktypes"):
        parts.append(f"unknown link types {cap['unknown_linktypes']}")
    if cap.get("snaplen_cut"):
        parts.append(f"{cap['snaplen_cut']} cut by snaplen (counted, payload partial)")
    ev = cap.get("evicted") or {}
    if ev.get("flows"):
        parts.append(f"{ev['flows']} flows evicted ({ev['packets']} packets, kept as counts)")
    read = cap.get("read") or {}
    if read.get("errors"):
        parts.append(f"file problems {read['errors']}: " + "; ".join(read.get("notes", [])[:3]))
    drops = cap.get("drops") or {}
    if drops:
        style = "red" if drops.get("kernel_drops") else "green"
        parts.append(f"[{style}]kernel drops {drops.get('kernel_drops', 0)}[/]")
    return "[dim]" + "; ".join(parts) + "[/]"


def _finish(
    result: ScanResult,
    policy: Any,
    json_out: Path | None,
    learn: Path | None,
    fail_on: str | None,
    quiet: bool,
    all_flows: bool,
) -> None:
    err = Console(stderr=True)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
        err.print(f"wrote {json_out}")
    if learn:
        from auditor.traffic import learn_baseline, save_baseline

        save_baseline(learn, learn_baseline(result.devices, policy.baseline))
        err.print(f"wrote baseline {learn}: review it, then pass it with --baseline")
    if not quiet:
        render(result, Console(), policy, all_flows)
    if fail_on:
        threshold = Severity.parse(fail_on)
        if any(f.severity >= threshold for d in result.devices for f in d.findings):
            raise typer.Exit(1)


SiteDns = typer.Option(None, "--site-dns", help="The site's DNS resolver (repeat).")
SiteNtp = typer.Option(None, "--site-ntp", help="The site's NTP server (repeat).")
Vms = typer.Option(None, "--vms", help="VMS / recorder address or CIDR (repeat).")
Allow = typer.Option(
    None, "--allow", help="Allowed destination: IP, CIDR or name pattern (repeat)."
)
Local = typer.Option(
    None, "--local", help="Extra site network (CIDR) besides the private ranges (repeat)."
)
Isolated = typer.Option(
    False, "--isolated", help="The cameras are meant to reach nothing outside the site."
)
Baseline = typer.Option(None, "--baseline", help="Accepted baseline (JSON) to flag drift from.")
PolicyFile = typer.Option(
    None, "--policy", help="Site policy TOML (docs/examples/site-policy.toml); flags add to it."
)
Learn = typer.Option(
    None, "--learn-baseline", help="Write the destinations seen as a baseline (JSON)."
)
JsonOut = typer.Option(None, "--json", help="Write the full result as JSON.")
FailOn = typer.Option(None, "--fail-on", help="Exit 1 on a finding at or above this severity.")
Quiet = typer.Option(False, "--quiet", "-q", help="No tables.")
AllFlows = typer.Option(False, "--all-flows", help="Show flows inside the site as well.")
UploadBurst = typer.Option(
    None, "--upload-burst", help="Upload burst threshold to the internet (default 10MB)."
)
UploadWindow = typer.Option(
    None, "--upload-window", help="Sliding window for --upload-burst (default 5m)."
)
QuietHoursOpt = typer.Option(
    None, "--quiet-hours", help="No internet traffic expected, e.g. 22:00-06:00."
)
TimezoneOpt = typer.Option(None, "--timezone", help="Site time zone for --quiet-hours (UTC).")
MaxFlows = typer.Option(250_000, "--max-flows", min=8, help="Flow table bound (LRU eviction).")


def register(app: typer.Typer) -> None:
    """Attach `camaudit pcap` and `camaudit watch` to the root app."""

    @app.command(
        "pcap",
        help=(
            "Analyse pcap/pcapng captures: per-device flows named by DNS, TLS SNI and HTTP "
            "Host; cloud, P2P, STUN, hard-coded DNS, UPnP port mappings.\n\n"
            "Example:\n\n"
            "  camaudit pcap mirror.pcapng --site-dns 10.20.0.53 --vms 10.20.0.5 --isolated"
        ),
    )
    def pcap(
        files: list[Path] = typer.Argument(..., metavar="FILE...", help="pcap or pcapng files."),
        json_out: Path | None = JsonOut,
        site_dns: list[str] | None = SiteDns,
        site_ntp: list[str] | None = SiteNtp,
        vms: list[str] | None = Vms,
        allow: list[str] | None = Allow,
        local: list[str] | None = Local,
        isolated: bool = Isolated,
        baseline: Path | None = Baseline,
        policy_file: Path | None = PolicyFile,
        upload_burst: str | None = UploadBurst,
        upload_window: str | None = UploadWindow,
        quiet_hours: str | None = QuietHoursOpt,
        timezone: str | None = TimezoneOpt,
        learn: Path | None = Learn,
        fail_on: str | None = FailOn,
        max_flows: int = MaxFlows,
        all_flows: bool = AllFlows,
        quiet: bool = Quiet,
    ) -> None:
        err = Console(stderr=True)
        started = time.time()
        try:
            if fail_on:
                Severity.parse(fail_on)
            policy, site = build_policy(
                site_dns=site_dns,
                site_ntp=site_ntp,
                vms=vms,
                allow=allow,
                local=local,
                isolated=isolated,
                baseline=baseline,
                policy_file=policy_file,
                upload={
                    "burst": upload_burst,
                    "window": upload_window,
                    "quiet": quiet_hours,
                    "timezone": timezone,
                },
            )
            from probes.flows import FlowTable, read_files

            table, stats = read_files([str(f) for f in files], FlowTable(max_flows=max_flows))
            if stats.packets == 0 and stats.errors:
                err.print("[red]error:[/] no packets read: " + "; ".join(stats.notes[:5]))
                raise typer.Exit(2)
            source = "pcap:" + ",".join(f.name for f in files)
            obs = table.observations(source, policy.local_networks, stats)
            result = analyse(obs, policy, [str(f) for f in files], started, site)
            _finish(result, policy, json_out, learn, fail_on, quiet, all_flows)
        except (CamauditError, ValueError) as exc:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None

    @app.command(
        "watch",
        help=(
            "Capture live on the interface you name (a mirror/SPAN port) and analyse it "
            "like `camaudit pcap`. Needs root. Kernel drop counts are reported.\n\n"
            "Example:\n\n"
            "  camaudit watch --iface eth1 --duration 10m --site-dns 10.20.0.53 --json w.json"
        ),
    )
    def watch(
        iface: str = typer.Option(..., "--iface", help="Interface to capture on (required)."),
        duration: str = typer.Option("60s", "--duration", help="How long: 30s, 10m, 1h."),
        bpf: str | None = typer.Option(None, "--bpf", help="tcpdump filter expression."),
        json_out: Path | None = JsonOut,
        site_dns: list[str] | None = SiteDns,
        site_ntp: list[str] | None = SiteNtp,
        vms: list[str] | None = Vms,
        allow: list[str] | None = Allow,
        local: list[str] | None = Local,
        isolated: bool = Isolated,
        baseline: Path | None = Baseline,
        policy_file: Path | None = PolicyFile,
        upload_burst: str | None = UploadBurst,
        upload_window: str | None = UploadWindow,
        quiet_hours: str | None = QuietHoursOpt,
        timezone: str | None = TimezoneOpt,
        learn: Path | None = Learn,
        fail_on: str | None = FailOn,
        max_flows: int = MaxFlows,
        all_flows: bool = AllFlows,
        quiet: bool = Quiet,
    ) -> None:
        err = Console(stderr=True)
        started = time.time()
        try:
            if fail_on:
                Severity.parse(fail_on)
            from probes.capture import capture, parse_duration
            from probes.flows import FlowTable

            seconds = parse_duration(duration)
            policy, site = build_policy(
                site_dns=site_dns,
                site_ntp=site_ntp,
                vms=vms,
                allow=allow,
                local=local,
                isolated=isolated,
                baseline=baseline,
                policy_file=policy_file,
                upload={
                    "burst": upload_burst,
                    "window": upload_window,
                    "quiet": quiet_hours,
                    "timezone": timezone,
                },
            )
            if not quiet:
                err.print(f"[bold]camaudit[/] capturing on {iface} for {seconds:.0f}s")
            table, cstats = capture(
                iface, seconds, FlowTable(max_flows=max_flows), bpf_expression=bpf
            )
            obs = table.observations(f"live:{iface}", policy.local_networks)
            obs[-1].data["capture"] = cstats.to_dict()
            result = analyse(obs, policy, [f"live:{iface}"], started, site)
            _finish(result, policy, json_out, learn, fail_on, quiet, all_flows)
        except (CamauditError, ValueError) as exc:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
