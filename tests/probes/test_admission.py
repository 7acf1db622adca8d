"""Identification slots: arrival order, slow hosts first, a reserve only they may use."""

from __future__ import annotations

import asyncio

import pytest

from probes.admission import Admission


async def _settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_slots_are_given_in_arrival_order_and_bounded() -> None:
    adm = Admission(2)
    assert await adm.acquire("a") is False
    assert await adm.acquire("b") is False
    order: list[str] = []

    async def wait(ip: str) -> None:
        await adm.acquire(ip)
        order.append(ip)

    tasks = [asyncio.create_task(wait(ip)) for ip in ("c", "d")]
    await _settle()
    assert order == [] and adm.waiting == 2  # both slots held: nobody else runs
    adm.release(False)
    await _settle()
    assert order == ["c"]
    adm.release(False)
    await asyncio.gather(*tasks)
    assert order == ["c", "d"]


async def test_a_slow_host_jumps_the_line_and_takes_a_reserved_slot() -> None:
    adm = Admission(1, reserve=1)
    await adm.acquire("busy")
    got: dict[str, bool] = {}

    async def wait(ip: str) -> None:
        got[ip] = await adm.acquire(ip)

    tasks = [asyncio.create_task(wait(ip)) for ip in ("fast1", "fast2", "slow")]
    await _settle()
    adm.mark_slow("slow")  # its WS-Discovery answer came late
    await _settle()
    assert got == {"slow": True}  # started at once, on the reserve
    adm.mark_slow("fast2")  # the reserve is taken: it goes first in line instead
    adm.release(False)
    await _settle()
    assert got == {"slow": True, "fast2": False}
    adm.release(True)  # a reserved slot goes back to the reserve, not to fast1
    await _settle()
    assert "fast1" not in got
    adm.release(False)
    await asyncio.gather(*tasks)
    assert got["fast1"] is False


async def test_a_cancelled_waiter_gives_its_slot_on() -> None:
    adm = Admission(1)
    await adm.acquire("a")
    b = asyncio.create_task(adm.acquire("b"))
    c = asyncio.create_task(adm.acquire("c"))
    await _settle()
    b.cancel()
    adm.release(False)  # granted to b as it was being cancelled: c must get it
    assert await asyncio.wait_for(c, 1) is False
    with pytest.raises(asyncio.CancelledError):
        await b


def test_nonsense_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        Admission(0)
    with pytest.raises(ValueError):
        Admission(1, reserve=-1)
