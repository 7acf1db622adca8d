"""TCP connect scan on 127.0.2.x: exact open ports, and speed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

import pytest

from probes import portscan

log = logging.getLogger(__name__)


async def _listen(ip: str, port: int = 0) -> asyncio.Server:
    async def handle(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.close()

    return await asyncio.start_server(handle, ip, port)


async def test_finds_exactly_the_open_ports() -> None:
    servers = [await _listen("127.0.2.50") for _ in range(5)]
    open_ports = sorted(s.sockets[0].getsockname()[1] for s in servers)
    closed = [p + 1 for p in open_ports if p + 1 not in open_ports][:3]
    done: list[str] = []
    try:
        (res,) = await portscan.scan(
            ["127.0.2.50"], open_ports + closed, timeout=1.0,
            on_host_done=lambda r: done.append(r.ip),
        )  # fmt: skip
    finally:
        for s in servers:
            s.close()
    assert res.open == open_ports
    assert res.refused == len(closed)
    assert res.rtt_ms is not None and res.rtt_ms < 100
    assert done == ["127.0.2.50"]
    (obs,) = portscan.to_observations([res], scanned=8)
    assert obs.data == {
        "tcp_open": open_ports, "scanned": 8, "rtt_ms": round(res.rtt_ms, 3),
        "refused": len(closed),
    }  # fmt: skip


async def test_silent_hosts_make_no_observation() -> None:
    res = portscan.HostResult("127.0.2.51")
    assert portscan.to_observations([res], scanned=3) == []


async def test_250_hosts_by_20_ports_is_fast() -> None:
    servers = [await _listen(f"127.0.2.{i}", 8080) for i in range(100, 110)]
    hosts = [f"127.0.2.{i}" for i in range(1, 251)]
    ports = [*list(portscan.DEFAULT_PORTS[:19]), 8080]
    t0 = time.perf_counter()
    try:
        results = await portscan.scan(hosts, ports, timeout=1.0, concurrency=1024)
    finally:
        for s in servers:
            s.close()
    took = time.perf_counter() - t0
    log.info("portscan: %d connects in %.3fs", len(hosts) * len(ports), took)
    assert {r.ip for r in results if 8080 in r.open} == {f"127.0.2.{i}" for i in range(100, 110)}
    assert took < 3.0, f"{len(hosts) * len(ports)} connects took {took:.2f}s"


def test_concurrency_respects_rlimit() -> None:
    import resource

    saved = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        got = portscan.max_concurrency(10**9)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        # never past what the (possibly raised) soft limit allows, never above the hard one
        assert got <= max(16, soft - portscan.FD_RESERVE)
        assert hard == resource.RLIM_INFINITY or soft <= hard
        assert portscan.max_concurrency(50) <= 50
        # a low soft limit under a higher hard one is raised as far as the scan needs
        if saved[1] == resource.RLIM_INFINITY or saved[1] >= 4096:
            resource.setrlimit(resource.RLIMIT_NOFILE, (1024, saved[1]))
            assert portscan.max_concurrency(2048) == 2048
            assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= 2048 + portscan.FD_RESERVE
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, saved)


async def test_a_cancelled_scan_sends_nothing_more() -> None:
    # A shared pool (the engine's) must not go on connecting for a scan cut off by the
    # deadline: its queued connects are dropped, in-flight ones report to nobody.
    pool = portscan.ConnectPool(4)
    seen: list[portscan.HostResult] = []
    hosts = [f"127.0.2.{i}" for i in range(200, 240)]
    task = asyncio.create_task(
        portscan.scan(hosts, range(20000, 20010), timeout=0.5, pool=pool,
                      on_host_done=seen.append)
    )  # fmt: skip
    await asyncio.sleep(0)  # let it queue its 400 connects
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    reported = len(seen)
    assert pool.waiting == deque()
    await asyncio.sleep(0.6)  # the in-flight ones finish or time out
    assert pool.inflight == 0
    assert len(seen) == reported  # nothing reported after the cancel
