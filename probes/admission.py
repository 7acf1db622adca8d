"""Who gets identified next: bounded slots, with hosts known to answer slowly first.

Identification is bounded per host (memory on a Raspberry Pi). In plain arrival order a
camera that answers at a second per round trip, found a little after a few hundred
fast ones, waits for them to finish and then runs its long chain of dependent round
trips (a WS-Security login, an RTSP DESCRIBE/SETUP/PLAY, a vendor-API walk) at the very
end: its chain, not the amount of work, sets the length of the scan. So a slow host,
once known to be slow (its WS-Discovery reply came late), goes to the front of the line,
and a few extra slots are kept for such hosts alone (longest job first). Their work is
mostly waiting, so the extra slots cost memory but little CPU.
"""

from __future__ import annotations

import asyncio

__all__ = ["Admission"]


class Admission:
    """``size`` slots for any host, in the order hosts ask, plus ``reserve`` slots only
    hosts marked slow (:meth:`mark_slow`) may take. Slow waiters are served first.

    Usage: ``reserved = await adm.acquire(ip)`` ... ``adm.release(reserved)``.
    """

    def __init__(self, size: int, reserve: int = 0) -> None:
        if size < 1 or reserve < 0:
            raise ValueError("admission needs at least one slot and a non-negative reserve")
        self._free = size
        self._reserve_free = reserve
        self._waiting: dict[str, asyncio.Future[bool]] = {}  # in arrival order
        self._slow: set[str] = set()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def acquire(self, ip: str) -> bool:
        """Wait for a slot for ``ip``; True when it is one of the reserved slots."""
        if ip in self._waiting:
            raise RuntimeError(f"{ip} is already waiting for a slot")
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return False
        if ip in self._slow and self._reserve_free > 0:
            self._reserve_free -= 1
            return True
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting[ip] = fut
        try:
            return await fut
        except asyncio.CancelledError:
            if self._waiting.get(ip) is fut:
                del self._waiting[ip]
            elif fut.done() and not fut.cancelled():
                self.release(fut.result())  # granted as we were cancelled: pass it on
            raise

    def mark_slow(self, ip: str) -> None:
        """``ip`` answers slowly: serve it before others, from the reserve if one is free."""
        self._slow.add(ip)
        if ip in self._waiting and self._reserve_free > 0:
            self._reserve_free -= 1
            if not self._grant(ip, True):
                self._reserve_free += 1

    def release(self, reserved: bool) -> None:
        """Give a slot back (``reserved`` as :meth:`acquire` returned it)."""
        while True:
            slow_next = next((ip for ip in self._waiting if ip in self._slow), None)
            nxt = (
                slow_next if reserved or slow_next is not None else next(iter(self._waiting), None)
            )
            if nxt is None:
                break
            if self._grant(nxt, reserved):
                return
        if reserved:
            self._reserve_free += 1
        else:
            self._free += 1

    def _grant(self, ip: str, reserved: bool) -> bool:
        fut = self._waiting.pop(ip)
        if fut.done():  # its task was cancelled and has not run its handler yet
            return False
        fut.set_result(reserved)
        return True
