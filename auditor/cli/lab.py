"""`camaudit lab ...`: the simulated camera network (owner: lab).

camlab is imported inside each command so ``camaudit --help`` stays fast and the
scanner never loads the lab's code unless the user asks for the lab.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

lab_app = typer.Typer(
    help="The simulated camera lab (network namespaces, needs root).", no_args_is_help=True
)


def _fail(exc: Exception) -> NoReturn:
    # first line only: the daemon's log tail follows it for start-up failures
    lines = str(exc).splitlines() or [type(exc).__name__]
    typer.secho(f"error: {lines[0]}", fg=typer.colors.RED, err=True)
    for extra in lines[1:]:
        typer.echo(f"  {extra}", err=True)
    raise typer.Exit(2)


@lab_app.command("up")
def up(
    cameras: int = typer.Option(24, "--cameras", "-n", min=1, help="How many cameras."),
    seed: int = typer.Option(1, "--seed", help="Seed: same seed, same lab."),
    hostile: int = typer.Option(
        0, "--hostile", min=0, help="Also this many hostile devices (robustness tests)."
    ),
) -> None:
    """Build the lab: one namespace per device on bridge camlab0, a router, a fake internet."""
    from camlab import control
    from camlab.errors import LabError

    try:
        summary = control.up(cameras, seed, hostile=hostile)
    except LabError as exc:
        _fail(exc)
    out = Console()
    out.print(
        f"[green]lab up[/green]: {summary['devices']} devices ({summary['cameras']} cameras) "
        f"in {summary['seconds']:.1f} s"
    )
    out.print(f"  subnet   {summary['subnet']}  (probe address {summary['probe_ip']} on camlab0)")
    out.print(f"  routed   {', '.join(summary['routed_subnets'])}  (via camlab-rtr)")
    if summary.get("note"):
        out.print(f"  [yellow]note[/yellow]: {summary['note']}")
    if summary["failed"]:
        out.print(f"  [yellow]failed to serve[/yellow]: {', '.join(summary['failed'])}")
    targets = " ".join([summary["subnet"], *summary["routed_subnets"]])
    out.print(f"next: [bold]camaudit scan {targets}[/bold]")


@lab_app.command("down")
def down() -> None:
    """Remove everything the lab created (daemon, namespaces, links, /run/camlab)."""
    from camlab import control
    from camlab.errors import LabError

    try:
        removed = control.down()
    except LabError as exc:
        _fail(exc)
    if removed:
        typer.echo(f"lab down: removed {len(removed)} objects")
    else:
        typer.echo("lab down: nothing to remove")


@lab_app.command("status")
def status(
    as_json: bool = typer.Option(False, "--json", help="Print the ground truth as JSON."),
) -> None:
    """Show the lab and its ground truth (what each device is and does)."""
    from camlab import control

    data = control.status()
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    _print_table(data)


def _print_table(data: dict[str, Any]) -> None:
    out = Console()
    if not data["up"]:
        left = data.get("leftovers") or []
        note = f" ({len(left)} camlab leftovers: run `camaudit lab down`)" if left else ""
        out.print(f"lab is [red]down[/red]{note}")
        if not data["devices"]:
            return
    else:
        out.print(
            f"lab is [green]up[/green]: {len(data['devices'])} devices on {data['subnet']} + "
            f"{', '.join(data['routed_subnets'])}, probe {data['probe_ip']}, "
            f"daemon pid {data['daemon_pid']}"
        )
    health = {
        n: d.get("health", "") for n, d in (data.get("daemon") or {}).get("devices", {}).items()
    }
    table = Table(
        "name", "ip", "mac", "vendor", "oem", "model", "firmware", "routed", "phone-home", "state"
    )
    for dev in data["devices"]:
        kinds = sorted({str(e.get("kind")) for e in dev.get("phone_home", [])})
        table.add_row(
            dev["name"],
            dev["ip"],
            dev["mac"],
            dev["vendor"],
            dev["oem"],
            dev["model"],
            dev["firmware"],
            "yes" if dev.get("routed") else "",
            ",".join(kinds),
            health.get(dev["name"], ""),
        )
    out.print(table)
