"""Unit tests for auditor/: pure and fast.

pytest runs with ``--import-mode=importlib``, which does not put test directories on
``sys.path``; the observation builders (``obsbuild.py``) are shared by several test
modules here, so this directory is added explicitly.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
