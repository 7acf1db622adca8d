"""camaudit's exception tree, documented in one place.

    CamauditError            base of everything camaudit raises on purpose
    ├── ConfigError          a bad configuration, policy or data file (names the file)
    ├── TargetError          a target the user named is missing, malformed or not allowed
    ├── ProbeError           a probe could not talk to a device (timeout, reset, malformed reply)
    ├── ParseError           bytes a device or capture sent could not be parsed
    ├── LabError             the simulated camera lab could not be built, found or removed
    └── StorageError         the dashboard's database refused a write or a read

Third-party exceptions are caught at the boundary where they happen and re-raised as
one of these with the cause attached (``raise ProbeError(...) from exc``).
"""

from __future__ import annotations


class CamauditError(Exception):
    """Base class of every error camaudit raises on purpose."""


class ConfigError(CamauditError):
    """A configuration, policy or data file is invalid; the message names the file."""


class TargetError(CamauditError):
    """A scan target is missing, malformed, or outside what the user allowed."""


class ProbeError(CamauditError):
    """A probe failed to talk to a device (timeout, reset, refused, oversized reply)."""


class ParseError(CamauditError):
    """Bytes from a device or a capture could not be parsed."""


class LabError(CamauditError):
    """The simulated camera lab could not be built, found or torn down."""


class StorageError(CamauditError):
    """The dashboard's database refused an operation."""
