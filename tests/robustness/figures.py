"""Figures the robustness tests measure, printed so docs/reliability.md can quote them.

Run a test with ``-s`` (or see the captured stdout of a failure) to read them; each line
is ``FIGURES <name> <json>``.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def report(name: str, figures: dict[str, Any]) -> None:
    """Print one figures line on stdout (captured by pytest unless ``-s``)."""
    sys.stdout.write(f"FIGURES {name} {json.dumps(figures, sort_keys=True)}\n")
