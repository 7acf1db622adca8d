"""`camaudit lab ...`: the simulated camera network (owner: lab)."""

from __future__ import annotations

import typer

lab_app = typer.Typer(help="The simulated camera lab (network namespaces, needs root).", no_args_is_help=True)
