"""camaudit's command line: the composition root.

This is the one place in ``auditor`` allowed to wire probes, web and the lab together,
and it imports them only inside the commands that need them, so ``camaudit --help``
stays fast and ``auditor`` stays importable without the network stack.
"""

from __future__ import annotations

import logging
import sys

import typer

from auditor import __version__
from auditor.cli import demo as demo_cmds
from auditor.cli import lab as lab_cmds
from auditor.cli import pcap as pcap_cmds
from auditor.cli import probe_agent as probe_agent_cmds
from auditor.cli import radio as radio_cmds
from auditor.cli import reclassify as reclassify_cmds
from auditor.cli import scan as scan_cmds
from auditor.cli import server as server_cmds

app = typer.Typer(
    name="camaudit",
    help=(
        "Privacy audit for IP camera networks: find every ONVIF/RTSP device, name its real "
        "maker, flag hidden radios and phone-home traffic.\n\n"
        "camaudit only touches the targets you name. Start with:\n\n"
        "  camaudit lab up --cameras 20     # a simulated camera VLAN (root)\n\n"
        "  camaudit scan 198.18.0.0/22 --json out.json"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"camaudit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: int = typer.Option(
        0, "--verbose", "-v", count=True, help="More logging (-vv: debug)."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


scan_cmds.register(app)
server_cmds.register(app)
probe_agent_cmds.register(app)
demo_cmds.register(app)
pcap_cmds.register(app)
radio_cmds.register(app)
reclassify_cmds.register(app)
app.add_typer(reclassify_cmds.data_app, name="data")
lab_cmds.lab_app.command("air")(radio_cmds.lab_air)
app.add_typer(lab_cmds.lab_app, name="lab")


def main() -> None:
    """Console entry point: run the CLI and map camaudit errors to exit code 2."""
    from auditor.errors import CamauditError

    try:
        app()
    except CamauditError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)
