"""The lab's air: a monitor-mode capture (pcap, radiotap) of the lab cameras' radios.

``write_air_pcap(devices, path, seed)`` writes what a monitor-mode Wi-Fi adapter on site
would record for the generated lab: the radios of the cameras (``LabDevice.radios``)
plus unrelated neighbours that a correct audit must not pin on any camera.

- A *reported* Wi-Fi radio is a client of the site's access point: probe requests for
  the site SSID and QoS data frames to that AP.
- A *hidden* radio (the Lahore case) either runs the camera's setup-mode access point
  (beacons and probe responses with the vendor SSID from the profile, sometimes with
  the SSID blanked out, i.e. a hidden network) or is a client of an access point nobody
  declared (probe requests and data frames).
- Neighbours: access points of other organisations, phones with randomised MACs that
  probe and browse, a device whose SSID looks like a camera setup SSID but whose MAC is
  nobody's, and an access point from a camera maker's MAC block that is not near any
  lab camera's wired MAC (a neighbour's camera).

Every frame is written here with ``struct`` (radiotap + 802.11 + FCS); the lab does not
reuse the scanner's parser, so a bug in one cannot hide in the other. The ground truth
of which radio belongs to which camera is ``LabDevice.radios`` (``lab status --json``);
:func:`air_truth` lists what was put on the air for each radio.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .spec import LabDevice

__all__ = ["AirEvent", "air_frames", "air_truth", "write_air_pcap"]

LINKTYPE_RADIOTAP = 127
T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC: captures are reproducible for a seed
BEACON_INTERVAL_S = 0.1024  # 100 TU
SITE_SSID = "CityCam-Ops"
SITE_BSSID = "02:5c:17:00:00:01"  # the site's own AP (locally administered in the lab)
BROADCAST = b"\xff" * 6
RATES_IE = bytes([1, 8, 0x82, 0x84, 0x8B, 0x96, 0x0C, 0x12, 0x18, 0x24])
# RSN IE: version 1, group CCMP, one pairwise CCMP, one AKM PSK, capabilities 0
RSN_IE = bytes(
    [48, 20, 1, 0, 0, 0x0F, 0xAC, 4, 1, 0, 0, 0x0F, 0xAC, 4, 1, 0, 0, 0x0F, 0xAC, 2, 0, 0]
)
# Neighbour organisations' OUIs: none belongs to a camera profile in the lab.
NEIGHBOUR_OUIS = ("f4:f2:6d", "3c:84:6a", "b0:be:76", "00:1a:11", "14:cc:20")
_PRESENT_SIMPLE = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 11)
# two bitmaps (second antenna's signal): word 0 with ext + namespace reset, word 1
_PRESENT_EXT = (
    (1 << 1) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 29) | (1 << 31),
    (1 << 5) | (1 << 11),
)


@dataclass(frozen=True)
class AirEvent:
    """What one radio does on the air in the capture (for tests and the lab's truth)."""

    mac: str
    owner: str | None  # lab device name, or None for a neighbour
    mode: str  # "client" | "ap" | "ap-hidden" | "phone" | "neighbour-ap" | "decoy-ap"
    ssid: str
    channel: int
    bssid: str | None = None  # the AP a client talks to


def _b(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def _freq(channel: int) -> int:
    return 2407 + 5 * channel if channel <= 13 else 5000 + 5 * channel


def _radiotap(tsft: int, channel: int, signal: int, ext: bool) -> bytes:
    chan_flags = 0x0080 if channel <= 14 else 0x0100  # 2 GHz / 5 GHz spectrum
    chan_flags |= 0x0040 if channel > 14 else 0x0020  # OFDM / CCK
    sig = signal & 0xFF
    if ext:
        w0, w1 = _PRESENT_EXT
        # header 4 + 8 (two words); flags@12 rate@13 channel@14 signal@18 signal2@19 ant@20
        body = struct.pack("<BBHHBBB", 0x10, 0x0C, _freq(channel), chan_flags, sig, sig, 1)
        return struct.pack("<BBHII", 0, 0, 12 + len(body), w0, w1) + body
    # TSFT must sit on an 8-byte boundary: header 8 bytes, TSFT @8
    body = struct.pack("<QBBHHBB", tsft, 0x10, 0x02, _freq(channel), chan_flags, sig, 0)
    return struct.pack("<BBHI", 0, 0, 8 + len(body), _PRESENT_SIMPLE) + body


def _mgmt(subtype: int, da: bytes, sa: bytes, bssid: bytes, seq: int, body: bytes) -> bytes:
    fc = subtype << 4  # type 0 (management)
    return struct.pack("<BBH6s6s6sH", fc, 0, 0, da, sa, bssid, (seq & 0xFFF) << 4) + body


def _ssid_ie(ssid: bytes) -> bytes:
    return bytes([0, len(ssid)]) + ssid


def _beacon_body(ts_us: int, ssid: bytes, channel: int, privacy: bool, dtim: int) -> bytes:
    cap = 0x0401 | (0x0010 if privacy else 0)  # ESS, short slot time, privacy
    ies = _ssid_ie(ssid) + RATES_IE + bytes([3, 1, channel]) + bytes([5, 4, dtim, 1, 0, 0])
    return struct.pack("<QHH", ts_us, 100, cap) + ies + (RSN_IE if privacy else b"")


def _data(to_ds: bool, a1: bytes, a2: bytes, a3: bytes, seq: int, payload: bytes) -> bytes:
    flags = (0x01 if to_ds else 0x02) | 0x40  # to/from DS, protected
    hdr = struct.pack("<BBH6s6s6sHH", 0x88, flags, 44, a1, a2, a3, (seq & 0xFFF) << 4, 0)
    return hdr + payload  # 0x88: QoS data, QoS control 0


def _ack(ra: bytes) -> bytes:
    return struct.pack("<BBH6s", 0xD4, 0, 0, ra)


def _plan(devices: Iterable[LabDevice], rng: random.Random) -> list[AirEvent]:
    events: list[AirEvent] = []
    hidden = 0
    rogue_bssid = f"02:{rng.randrange(256):02x}:bb:{rng.randrange(256):02x}:00:01"
    for dev in devices:
        for radio in dev.radios:
            if radio.get("kind") != "wifi":
                continue
            ch = int(radio.get("channel") or 6)
            if radio.get("reported"):
                events.append(AirEvent(radio["mac"], dev.name, "client", SITE_SSID, 6, SITE_BSSID))
                continue
            mode = ("ap", "client", "ap-hidden")[hidden % 3]
            hidden += 1
            if mode == "client":
                events.append(AirEvent(radio["mac"], dev.name, mode, "CamLink", ch, rogue_bssid))
            else:
                events.append(AirEvent(radio["mac"], dev.name, mode, radio["ssid"], ch))
    names = ("Bakery-Guest", "DIRECT-7F-HP OfficeJet", "CityHall-Visitors", "Telekom-4G2X")
    aps: list[AirEvent] = []
    for i, ssid in enumerate(names):
        oui = NEIGHBOUR_OUIS[i % len(NEIGHBOUR_OUIS)]
        mac = f"{oui}:{rng.randrange(256):02x}:{rng.randrange(256):02x}:{rng.randrange(256):02x}"
        aps.append(AirEvent(mac, None, "neighbour-ap", ssid, rng.choice((1, 6, 11, 36))))
    events += aps
    for _ in range(6):  # phones: locally administered (randomised) MACs
        first = (rng.randrange(256) & 0xFC) | 0x02
        mac = ":".join(f"{o:02x}" for o in [first] + [rng.randrange(256) for _ in range(5)])
        ap = rng.choice(aps)
        events.append(AirEvent(mac, None, "phone", ap.ssid, ap.channel, ap.mac))
    # a setup-style SSID on a MAC that belongs to nobody in the lab
    decoy = f"{NEIGHBOUR_OUIS[0]}:{rng.randrange(256):02x}:00:{rng.randrange(256):02x}"
    events.append(AirEvent(decoy, None, "decoy-ap", f"IPC-{rng.randrange(10**5):05d}", 11))
    # a neighbour's camera: a camera maker's OUI, far from every lab camera's wired MAC
    cams = [d for d in devices if d.kind == "camera" and d.mac and not int(d.mac[:2], 16) & 2]
    if cams:
        cam = rng.choice(cams)
        base = int(cam.mac.replace(":", ""), 16)
        far = base ^ 0x5A5A00  # same OUI, far away in the lower 24 bits
        used = {int(d.mac.replace(":", ""), 16) for d in devices if d.mac}
        if all(abs(far - u) > 16 for u in used):
            mac = f"{far:012x}"
            mac = ":".join(mac[i : i + 2] for i in range(0, 12, 2))
            events.append(AirEvent(mac, None, "decoy-ap", "HAP-00000", 1))
    return events


def air_truth(devices: Iterable[LabDevice], seed: int) -> list[AirEvent]:
    """Return what :func:`write_air_pcap` puts on the air for ``devices`` and ``seed``."""
    return _plan(list(devices), random.Random(seed ^ 0xA1))


def air_frames(
    devices: Iterable[LabDevice], seed: int, seconds: float = 20.0
) -> Iterable[tuple[float, bytes]]:
    """Yield ``(timestamp, radiotap frame with FCS)`` in time order for the lab's air."""
    rng = random.Random(seed ^ 0xA1)
    events = _plan(list(devices), rng)
    frames: list[tuple[float, bytes]] = []
    seq: dict[str, int] = {}
    signal = {e.mac: rng.randint(-85, -38) for e in events}

    def emit(t: float, ev: AirEvent, mpdu: bytes, ext: bool = False) -> None:
        rt = _radiotap(int((t - T0) * 1e6), ev.channel, signal[ev.mac] + rng.randint(-3, 3), ext)
        frames.append((t, rt + mpdu + struct.pack("<I", zlib.crc32(mpdu))))

    def nseq(mac: str) -> int:
        seq[mac] = seq.get(mac, rng.randrange(4096)) + 1
        return seq[mac]

    for ev in events:
        me = _b(ev.mac)
        start = T0 + rng.random()
        if ev.mode in ("ap", "ap-hidden", "neighbour-ap", "decoy-ap"):
            ssid = b"" if ev.mode == "ap-hidden" else ev.ssid.encode()
            privacy = ev.mode == "neighbour-ap" or (ev.mode == "ap" and rng.random() < 0.5)
            t = start
            while t < T0 + seconds:
                body = _beacon_body(int((t - T0) * 1e6), ssid, ev.channel, privacy, 0)
                emit(t, ev, _mgmt(8, BROADCAST, me, me, nseq(ev.mac), body))
                t += BEACON_INTERVAL_S
            if ev.mode == "ap":  # answer a phone's wildcard probe now and then
                for k in range(int(seconds // 5)):
                    t = start + 5 * k + 0.05
                    sta = _b(f"02:00:5e:00:00:{k % 256:02x}")
                    body = _beacon_body(int((t - T0) * 1e6), ssid, ev.channel, privacy, 0)
                    emit(t, ev, _mgmt(5, sta, me, me, nseq(ev.mac), body))
        elif ev.mode in ("client", "phone"):
            bssid = _b(ev.bssid or SITE_BSSID)
            ext = ev.mode == "phone"
            for k in range(int(seconds // 4) + 1):  # probe requests every few seconds
                t = start + 4 * k
                ies = _ssid_ie(ev.ssid.encode() if k % 2 else b"") + RATES_IE
                emit(t, ev, _mgmt(4, BROADCAST, me, BROADCAST, nseq(ev.mac), ies), ext)
            rate = 5.0 if ev.mode == "client" else 1.0  # data frames per second
            t = start + 0.5
            while t < T0 + seconds:
                payload = bytes(rng.randrange(256) for _ in range(8 + rng.randrange(64)))
                emit(t, ev, _data(True, bssid, me, bssid, nseq(ev.mac), payload), ext)
                ap = AirEvent(ev.bssid or SITE_BSSID, None, "ap", "", ev.channel)
                signal.setdefault(ap.mac, -50)
                emit(t + 0.0002, ap, _ack(me))
                emit(t + 0.001, ap, _data(False, me, bssid, bssid, nseq(ap.mac), payload[:16]))
                t += rng.expovariate(rate)
    frames.sort(key=lambda f: f[0])
    yield from frames


def write_air_pcap(
    devices: Iterable[LabDevice], path: str | Path, seed: int, seconds: float = 20.0
) -> dict[str, Any]:
    """Write the lab's air as a classic pcap (linktype 127, radiotap); return a summary.

    The summary has ``frames``, ``bytes`` and ``radios`` (the :class:`AirEvent` list as
    dicts). Raises OSError when ``path`` cannot be written.
    """
    devs = list(devices)
    out = Path(path)
    count = 0
    with out.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_RADIOTAP))
        for t, frame in air_frames(devs, seed, seconds):
            sec = int(t)
            fh.write(struct.pack("<IIII", sec, int((t - sec) * 1e6), len(frame), len(frame)))
            fh.write(frame)
            count += 1
    return {
        "path": str(out),
        "frames": count,
        "bytes": out.stat().st_size,
        "radios": [e.__dict__ for e in air_truth(devs, seed)],
    }
