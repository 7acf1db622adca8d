"""`camaudit reclassify` and `camaudit data check`: re-judge stored observations.

``reclassify`` reads a scan JSON (``camaudit scan --json``), rebuilds every device from
the raw ``observations`` it carries with today's fingerprints, advisories and rules
(optionally a site policy), and writes the same JSON shape. Nothing is rescanned.
``data check`` validates data files a user edited (advisories, a site policy,
compliance lists) and names the file and entry or line of the first problem.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from auditor.errors import ConfigError
from auditor.model import Observation, ScanResult, Severity


def load_scan(path: Path) -> ScanResult:
    """Read a scan JSON back into a ScanResult with its observations (devices left empty).

    Raises ConfigError naming the file when it is unreadable, not JSON, or carries no
    observations (a scan written without them cannot be reclassified).
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read scan file: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not JSON (line {exc.lineno}): {exc.msg}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("scan"), dict):
        raise ConfigError(f"{path}: not a camaudit scan JSON (no 'scan' object)")
    raw = doc.get("observations")
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: has no 'observations': rescan, or keep them in the JSON")
    obs = []
    for i, item in enumerate(raw):
        try:
            obs.append(Observation.from_dict(item))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: observation #{i + 1} is malformed: {exc!r}") from exc
    scan: dict[str, Any] = doc["scan"]
    return ScanResult(
        scan_id=str(scan.get("id") or "unknown"),
        targets=[str(t) for t in scan.get("targets") or []],
        started=float(scan.get("started") or 0.0),
        finished=float(scan.get("finished") or 0.0),
        observations=obs,
        stats=dict(scan.get("stats") or {}),
    )


def reclassify(result: ScanResult, policy: Any = None, today: dt.date | None = None) -> ScanResult:
    """Classify ``result.observations`` afresh and apply every rule (and ``policy``)."""
    from auditor.classify import classify
    from auditor.policy import apply_policy

    devices = classify(result.observations)
    apply_policy(devices, policy, today or dt.date.today())
    result.devices = devices
    result.stats.update(
        devices=len(devices),
        cameras=sum(1 for d in devices if d.device_type == "camera"),
        findings=sum(len(d.findings) for d in devices),
        reclassified_at=time.time(),
    )
    return result


def register(app: typer.Typer) -> None:
    """Attach `camaudit reclassify` to the root app."""

    @app.command(
        "reclassify",
        help=(
            "Re-run classification and every rule on the observations stored in a scan "
            "JSON, without rescanning (after a rule, fingerprint or advisory update, or "
            "with a site policy).\n\n"
            "Examples:\n\n"
            "  camaudit reclassify scan.json --json scan-today.json\n\n"
            "  camaudit reclassify scan.json --policy site-policy.toml --fail-on high\n\n"
            "Exit status: 0 ok; 1 a finding at or above --fail-on; 2 an error."
        ),
    )
    def reclassify_cmd(
        scan_file: Path = typer.Argument(
            ..., help="A scan JSON written by `camaudit scan --json`."
        ),
        policy: Path | None = typer.Option(None, "--policy", help="Site policy TOML."),
        json_out: Path | None = typer.Option(None, "--json", help="Write the new scan JSON here."),
        fail_on: str | None = typer.Option(None, "--fail-on", help="Exit 1 at this severity."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No table."),
    ) -> None:
        from auditor.cli.scan import render_table, write_outputs
        from auditor.policy import load_policy

        threshold = Severity.parse(fail_on) if fail_on else None
        pol = load_policy(policy) if policy else None
        result = reclassify(load_scan(scan_file), pol)
        if json_out:
            write_outputs(result, json_out, None)
        if not quiet:
            render_table(result, Console())
        if threshold is not None and any(
            f.severity >= threshold for d in result.devices for f in d.findings
        ):
            raise typer.Exit(1)


data_app = typer.Typer(help="Check the data files camaudit reads.", no_args_is_help=True)


@data_app.command(
    "check",
    help=(
        "Validate data files: the shipped advisories and compliance lists, or the files "
        "you name (an advisories file with --advisories, a site policy with --policy).\n\n"
        "  camaudit data check --advisories my-advisories.toml --policy site-policy.toml"
    ),
)
def data_check(
    advisories: Path | None = typer.Option(None, "--advisories", help="Advisories TOML."),
    policy: Path | None = typer.Option(None, "--policy", help="Site policy TOML."),
) -> None:
    from auditor.advisories import load_advisories
    from auditor.compliance import load_lists
    from auditor.policy import load_policy

    advs = load_advisories(advisories.resolve() if advisories else None)
    lists = load_lists()
    kev = sum(1 for a in advs if a.kev)
    typer.echo(f"advisories: {len(advs)} entries ({kev} in CISA KEV) OK")
    typer.echo(f"compliance lists: {', '.join(sorted(lists))} OK")
    if policy:
        pol = load_policy(policy)
        typer.echo(
            f"policy {policy}: {len(pol.firmware_floors)} firmware floors, "
            f"{len(pol.accepted_risks)} accepted risks, {len(pol.severity_overrides)} "
            "severity overrides OK"
        )


@data_app.command(
    "update-oui",
    help=(
        "Rebuild the MAC vendor table (IEEE /24, /28 and /36 assignments) from a Wireshark "
        "'manuf' file, or from the copy scapy ships when --from is not given.\n\n"
        "  camaudit data update-oui --from /usr/share/wireshark/manuf"
    ),
)
def data_update_oui(
    source: Path | None = typer.Option(None, "--from", help="A Wireshark-format manuf file."),
    out: Path | None = typer.Option(
        None, "--out", help="Where to write the table (default: the one camaudit reads)."
    ),
) -> None:
    from auditor.errors import ConfigError
    from auditor.oui import write_oui_csv

    if source is not None:
        try:
            text = source.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read: {exc.strerror}") from exc
        origin = str(source)
    else:
        # scapy (a dependency) ships Wireshark's manuf data as a string
        from scapy.libs.manuf import DATA

        text, origin = DATA, "scapy's bundled Wireshark manuf data"
    try:
        n = write_oui_csv(text, out)
    except OSError as exc:
        raise ConfigError(f"cannot write the OUI table: {exc}") from exc
    typer.echo(f"OUI table: {n} assignments from {origin}")
