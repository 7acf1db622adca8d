"""In-process sliding-window rate limits (login failures, probe token use).

One dashboard process serves a city, so counters in memory are enough; they reset on
restart, which only ever lets an attacker start over once per restart.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from fastapi import HTTPException

MAX_KEYS = 100_000  # bound memory when someone sprays usernames or addresses


class SlidingWindow:
    """At most ``limit`` events per key in any ``window`` seconds."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque[float]:
        q = self._events.get(key)
        if q is None:
            if len(self._events) >= MAX_KEYS:
                self._events.clear()
            q = self._events[key] = deque()
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def retry_after(self, key: str) -> int | None:
        """Seconds to wait when ``key`` is over its limit, else None (records nothing)."""
        with self._lock:
            now = self._clock()
            q = self._prune(key, now)
            if len(q) < self.limit:
                return None
            return max(1, math.ceil(q[0] + self.window - now))

    def add(self, key: str) -> None:
        with self._lock:
            self._prune(key, self._clock()).append(self._clock())

    def hit(self, key: str) -> int | None:
        """Record one event unless over the limit; return seconds to wait when over."""
        with self._lock:
            now = self._clock()
            q = self._prune(key, now)
            if len(q) >= self.limit:
                return max(1, math.ceil(q[0] + self.window - now))
            q.append(now)
            return None

    def reset(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)


def too_many(retry_after: int, what: str) -> HTTPException:
    return HTTPException(
        status_code=429,
        detail=f"too many {what}; retry in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )
