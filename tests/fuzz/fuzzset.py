"""Shared fuzz settings: bounded in the test command, ``SCALE`` times more for make fuzz."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
SCALE = {"long": 50}.get(PROFILE, 1)
RAN: Counter[str] = Counter()  # target -> examples actually run this session
NOTES: dict[str, Any] = {}  # other figures for the summary line

settings.register_profile("long", deadline=None, print_blob=True)
if PROFILE == "long":
    settings.load_profile("long")

F = TypeVar("F", bound=Callable[..., Any])


def fuzz(examples: int) -> Callable[[F], F]:
    """``@fuzz(n)``: n examples (n x SCALE under HYPOTHESIS_PROFILE=long), no deadline."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def ran(target: str) -> None:
    """Count one example of ``target`` (what docs/reliability.md reports)."""
    RAN[target] += 1
