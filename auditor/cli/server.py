"""`camaudit serve`, `camaudit user ...`: the dashboard (owner: web)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the dashboard commands to the root app."""
