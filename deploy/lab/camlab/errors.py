"""The lab's own exception (camlab imports nothing from ``auditor``).

``auditor/cli/lab.py`` catches :class:`LabError` at the boundary and prints its
message; the lab raises it for anything an operator can act on (not root, a lab
already up, an unreadable profile, a topology command that failed).
"""

from __future__ import annotations


class LabError(Exception):
    """The simulated camera lab could not be built, found or torn down."""
