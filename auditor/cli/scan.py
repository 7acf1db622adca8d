"""`camaudit scan`: one-shot audit of the targets the user names."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the scan commands to the root app."""
