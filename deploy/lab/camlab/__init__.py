"""camlab: the simulated camera network camaudit is tested against.

Deliberately separate from the scanner: it imports nothing from ``auditor``, ``probes``
or ``web`` and has its own (simple) protocol code, so a bug in a scanner parser cannot
hide behind the same bug in the lab. ``tests/test_layering.py`` keeps it so.
"""

__version__ = "0.1.0"
