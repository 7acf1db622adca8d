"""Benchmark: many concurrent ONVIF probes against recorded devices on 127.0.3.x.

The fake devices run in a separate process so the figure is the probe's own cost.
Run: .venv/bin/python tests/bench/bench_onvif.py [N]
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "probes")]

HOSTS = [f"127.0.3.{i}" for i in range(100, 110)]


def serve(ready: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from onvif_server import FakeOnvifDevice, OnvifServer

    async def main() -> None:
        ports = []
        servers = []
        for i, host in enumerate(HOSTS):
            dev = FakeOnvifDevice(
                "hikvision-ds2cd2143g0-v5.6.3",
                users={"admin": "Camaudit123"},
                auth="wsse",
                skew=dt.timedelta(hours=2 if i % 2 else 0),
            )
            srv = OnvifServer(dev, host)
            await srv.__aenter__()
            servers.append(srv)
            ports.append(srv.port)
        ready.put(ports)
        await asyncio.sleep(3600)

    asyncio.run(main())


async def bench(n: int, ports: list[int]) -> None:
    from probes import onvif_soap
    from probes.onvif import probe_onvif

    t0, c0 = time.perf_counter(), time.process_time()
    await onvif_soap.prepare()
    print(
        f"WSDL parse once: {time.perf_counter() - t0:.2f}s wall, "
        f"{time.process_time() - c0:.2f}s CPU"
    )
    creds = [("admin", "Camaudit123")]
    for round_ in range(2):
        t0, c0 = time.perf_counter(), time.process_time()
        obs = await asyncio.gather(
            *(
                probe_onvif(
                    HOSTS[i % len(HOSTS)],
                    ports[i % len(ports)],
                    xaddr=None,
                    timeout=5.0,
                    credentials=creds,
                )
                for i in range(n)
            )
        )
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        ok = sum(1 for o in obs if o.data["device_info"])
        errors = {o.error for o in obs if o.error}
        print(
            f"round {round_}: {n} devices, identified {ok}, wall {wall:.2f}s, "
            f"CPU {cpu:.2f}s = {cpu / n * 1000:.1f} ms CPU/device "
            f"({len(obs[0].data['calls'])} calls each), errors {errors or None}"
        )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 250
    ready: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    proc = multiprocessing.Process(target=serve, args=(ready,), daemon=True)
    proc.start()
    try:
        ports = ready.get(timeout=30)
        asyncio.run(bench(n, ports))
    finally:
        proc.terminate()
        proc.join(5)


if __name__ == "__main__":
    main()
