"""`camaudit radio ...`: what the air says, and which camera it belongs to (issue 5).

``camaudit radio --pcap FILE...`` reads 802.11 (radiotap, plain, Prism, AVS) and BLE
captures; ``camaudit radio --iface wlan0mon --duration 60`` listens on a monitor-mode
interface the user names (passive, root). With ``--inventory scan.json`` (a previous
``camaudit scan --json``) the transmitters are linked to the scanned devices and the
radio rules run. :func:`analyse_air` is what ``camaudit pcap`` calls for 802.11 files.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from auditor.errors import ConfigError, TargetError
from auditor.model import Device, Observation

log = logging.getLogger(__name__)
RADIO_RULE_PREFIX = "CAM-RADIO-"


def _inventory(path: Path) -> list[Device]:
    """Classify the observations of a previous scan's JSON; raise ConfigError if unusable."""
    from auditor.classify import classify

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        obs = [Observation.from_dict(o) for o in doc["observations"]]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the scan JSON: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"{path}: not a camaudit scan JSON with observations ({exc!r}); "
            "write one with 'camaudit scan ... --json FILE'"
        ) from exc
    return classify(obs)


def correlate_and_judge(
    devices: list[Device], air: list[Observation], policy_file: Path | None = None
) -> dict[str, Any]:
    """Link ``air`` to ``devices``, run the rules (with a site policy if given).

    Returns ``{"links": ..., "unlinked": ..., "devices": [devices with radio findings]}``.
    """
    from auditor.radios import attach, correlate

    match = correlate(devices, air)
    attach(devices, match)
    if policy_file is not None:
        from auditor.policy import apply_policy, load_policy

        apply_policy(devices, load_policy(policy_file), dt.date.today())
    else:
        from auditor.rules import evaluate

        evaluate(devices)
    flagged = [d for d in devices if any(f.rule.startswith(RADIO_RULE_PREFIX) for f in d.findings)]
    return {**match.to_dict(), "devices": [d.to_dict() for d in flagged]}


def analyse_air(
    files: list[Path], inventory: list[Device] | None = None, policy_file: Path | None = None
) -> dict[str, Any]:
    """Read 802.11/BLE capture files; with an inventory, link and judge. Returns the JSON.

    Raises OSError for an unreadable file; frame problems are counted in ``stats``.
    """
    from probes.wifi import read_air

    cap = read_air(files)
    out: dict[str, Any] = {
        "stats": cap.summary(),
        "transmitters": [o.to_dict() for o in cap.observations],
    }
    if inventory is not None:
        out["correlation"] = correlate_and_judge(inventory, cap.observations, policy_file)
    return out


def _print(result: dict[str, Any], console: Console, top: int) -> None:
    st = result["stats"]["frames"]
    console.print(
        f"frames {st['frames']}  parsed {st['parsed']}  skipped {sum(st['skipped'].values())} "
        f"{st['skipped'] or ''}  transmitters {len(result['transmitters'])}"
    )
    table = Table("MAC", "kind/role", "SSIDs", "channels", "dBm", "frames", title="on the air")
    txs = sorted(result["transmitters"], key=lambda o: -o["data"]["frames"])
    for o in txs[:top]:
        d = o["data"]
        ssids = d.get("ssids") or d.get("probed_ssids") or []
        if d.get("hidden_ssid"):
            ssids = [*ssids, "<hidden>"]
        table.add_row(
            o["mac"],
            d.get("role") or d.get("kind"),
            ", ".join(ssids)[:40],
            ",".join(str(c) for c in d.get("channels") or []),
            f"{d.get('signal_dbm_min')}..{d.get('signal_dbm_max')}",
            str(d["frames"]),
        )
    console.print(table)
    corr = result.get("correlation")
    if not corr:
        return
    links = Table("air MAC", "device", "confidence", "why", title="linked to devices")
    for lk in corr["links"]:
        why = "; ".join(e["detail"] for e in lk["evidence"])
        links.add_row(lk["air_mac"], lk["device_ip"], f"{lk['confidence']:.2f}", why[:80])
    console.print(links)
    for item in corr["unlinked"]:
        console.print(
            f"[yellow]camera-like radio not linked[/yellow] {item['air_mac']}: {item['why']}"
        )
    for dev in corr["devices"]:
        for f in dev["findings"]:
            if f["rule"].startswith(RADIO_RULE_PREFIX):
                console.print(f"{dev['ip']:<15} {f['severity']:<8} {f['rule']}: {f['title']}")


def radio(
    pcap: list[Path] = typer.Option(
        [], "--pcap", help="802.11 or BLE capture file(s) (pcap/pcapng); repeat for several."
    ),
    iface: str | None = typer.Option(
        None, "--iface", help="Monitor-mode interface to listen on (you name it; needs root)."
    ),
    duration: float = typer.Option(60.0, "--duration", min=0.1, help="Seconds to listen."),
    linktype: int | None = typer.Option(
        None, "--linktype", help="Override the live link type (127 radiotap, 105 802.11)."
    ),
    inventory: Path | None = typer.Option(
        None, "--inventory", help="A previous 'camaudit scan --json' file to link radios to."
    ),
    policy: Path | None = typer.Option(None, "--policy", help="Site policy TOML."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the result as JSON here."),
    top: int = typer.Option(30, "--top", help="Transmitters to show in the table."),
) -> None:
    """What the air says: radios in 802.11/BLE captures or live, linked to cameras.

    Examples:

      camaudit radio --pcap site-walk.pcapng --inventory scan.json

      camaudit radio --iface wlan0mon --duration 60 --inventory scan.json --json air.json
    """
    if not pcap and not iface:
        raise TargetError(
            "camaudit radio needs --pcap FILE or --iface IFACE (a monitor-mode interface "
            "you name); it never picks an interface itself"
        )
    if pcap and iface:
        raise TargetError("give --pcap or --iface, not both")
    devices = _inventory(inventory) if inventory is not None else None
    if iface:
        from probes.wifi import AirParser
        from probes.wifi_live import capture_live

        parser = AirParser(source=f"live:{iface}")
        capture_live(iface, duration, parser, linktype=linktype)
        result: dict[str, Any] = {
            "stats": {"frames": parser.stats.to_dict(), "files": None},
            "transmitters": [o.to_dict() for o in parser.observations()],
        }
        if devices is not None:
            result["correlation"] = correlate_and_judge(devices, parser.observations(), policy)
    else:
        for f in pcap:
            if not f.is_file():
                raise TargetError(f"{f}: no such capture file")
        result = analyse_air(pcap, devices, policy)
    _print(result, Console(), top)
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2, default=str))


def lab_air(
    out: Path = typer.Option(..., "--out", help="Where to write the capture (pcap, radiotap)."),
    cameras: int = typer.Option(24, "--cameras", "-n", min=1, help="Cameras (as 'lab up')."),
    seed: int = typer.Option(1, "--seed", help="Seed (as 'lab up')."),
    seconds: float = typer.Option(20.0, "--seconds", min=1.0, help="Capture length."),
) -> None:
    """Write the simulated lab's air (its cameras' radios and neighbours) as a pcap."""
    from camlab.air import write_air_pcap
    from camlab.generate import generate

    summary = write_air_pcap(generate(cameras, seed), out, seed, seconds)
    typer.echo(f"wrote {summary['frames']} frames ({summary['bytes']} bytes) to {out}")


def register(app: typer.Typer) -> None:
    """Add ``camaudit radio`` to ``app``."""
    app.command("radio")(radio)
