"""Robustness tests: hostile devices on loopback 127.0.6.0/24, crash safety, redaction.

``--import-mode=importlib`` keeps test directories off ``sys.path``; the shared helper
``figures.py`` is imported from here, so this directory is added explicitly.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
