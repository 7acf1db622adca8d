"""Finding rules: a registry of small functions, each with a stable id.

Import this package to register every rule. ``evaluate(devices)`` attaches findings;
``RULES`` lists them (``rules_markdown()`` renders ``docs/rules.md``).
"""

from __future__ import annotations

import auditor.rules.cloud_platform  # registers (issue 7: vendor cloud platform)
import auditor.rules.posture
import auditor.rules.privacy_masks  # registers (issue 7: privacy masks)
import auditor.rules.radio_vendorapi  # registers (issue 5: vendor APIs)
import auditor.rules.radios
import auditor.rules.ssdp  # registers (issue 7: UPnP/SSDP)
import auditor.rules.traffic
import auditor.rules.upload  # noqa: F401 (registers; issue 6)
from auditor.rules import device, exposure, identity, policy, radio  # noqa: F401 (registers)
from auditor.rules.registry import RULES, Hit, Rule, evaluate, rule, rules_markdown

__all__ = ["RULES", "Hit", "Rule", "evaluate", "rule", "rules_markdown"]
