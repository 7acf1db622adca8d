"""camaudit's core: data model, classification, rules, policy and reports.

This package is pure logic. It imports no network or web library and nothing from
``probes`` or ``web`` (``auditor.cli``, the composition root, is the one exception and
imports them inside the commands that need them). ``tests/test_layering.py`` keeps it so.
"""

__version__ = "0.1.0"
