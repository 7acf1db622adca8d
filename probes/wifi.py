"""What the air says: 802.11 and BLE advertising captures to per-transmitter observations.

Reads radiotap (linktype 127), plain 802.11 (105), Prism (119) and AVS (163) headers,
and BLE link-layer captures (251 LE LL with PHDR, 256 LE LL). Frames are parsed with
``struct`` straight out of the capture's mmap (``probes.pcapio``), never copied whole.

Per transmitter MAC the parser keeps: role (``ap`` when it beacons or answers probes,
else ``client``), SSIDs it announces and SSIDs it asks for, BSSIDs it talks to,
channels, signal min/max, frame counts and first/last time seen; for BLE the company
IDs of manufacturer-specific data. A bad frame never raises: it is counted under a
reason in :class:`AirStats` (``truncated``, ``bad_radiotap``, ``absurd_length``,
``bad_fcs``, ``unknown_linktype``, ...) and the next frame is read.

The live mode (``probes.wifi_live``) feeds the same :class:`AirParser` frame by frame.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.model import Observation
from probes.pcapio import CaptureReader, ReadStats

log = logging.getLogger(__name__)

LINKTYPE_IEEE802_11 = 105
LINKTYPE_PRISM = 119
LINKTYPE_RADIOTAP = 127
LINKTYPE_AVS = 163
LINKTYPE_BLE_LL_PHDR = 256  # LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR
LINKTYPE_BLE_LL = 251  # LINKTYPE_BLUETOOTH_LE_LL
WIFI_LINKTYPES = (LINKTYPE_IEEE802_11, LINKTYPE_PRISM, LINKTYPE_RADIOTAP, LINKTYPE_AVS)
BLE_LINKTYPES = (LINKTYPE_BLE_LL, LINKTYPE_BLE_LL_PHDR)
AIR_LINKTYPES = WIFI_LINKTYPES + BLE_LINKTYPES

MAX_SSIDS = 16  # per transmitter: a hostile beacon flood cannot bloat the report
MAX_PEERS = 16
IE_RESAMPLE = 64  # re-read a beacon stream's IEs every 64th frame (SSID changes)
BLE_ADV_ACCESS_ADDRESS = 0x8E89BED6
MAX_RADIOTAP = 2048  # real headers are tens of bytes; thousands means corrupt framing

# Radiotap fields of the default namespace: bit -> (alignment, size). From the radiotap
# field list (radiotap.org/fields/defined); a present bit not listed here stops the walk,
# since nothing after it can be located.
_RT_FIELDS: dict[int, tuple[int, int]] = {
    0: (8, 8),  # TSFT
    1: (1, 1),  # Flags
    2: (1, 1),  # Rate
    3: (2, 4),  # Channel: freq u16, flags u16
    4: (2, 2),  # FHSS
    5: (1, 1),  # antenna signal, dBm (s8)
    6: (1, 1),  # antenna noise, dBm
    7: (2, 2),  # lock quality
    8: (2, 2),  # TX attenuation
    9: (2, 2),  # dB TX attenuation
    10: (1, 1),  # dBm TX power
    11: (1, 1),  # antenna
    12: (1, 1),  # dB antenna signal
    13: (1, 1),  # dB antenna noise
    14: (2, 2),  # RX flags
    15: (2, 2),  # TX flags
    16: (1, 1),  # RTS retries
    17: (1, 1),  # data retries
    18: (4, 8),  # XChannel: flags u32, freq u16, channel u8, maxpower u8
    19: (1, 3),  # MCS
    20: (4, 8),  # A-MPDU status
    21: (2, 12),  # VHT
    22: (8, 12),  # timestamp
    23: (2, 12),  # HE
    24: (2, 12),  # HE-MU
    25: (2, 6),  # HE-MU-other-user
    26: (1, 1),  # 0-length PSDU
    27: (2, 4),  # L-SIG
}
_FLAG_FCS = 0x10  # Flags: frame includes the 4-byte FCS
_FLAG_BADFCS = 0x40

_U16 = struct.Struct("<H")
_RT_HDR = struct.Struct("<BBHI")  # version, pad, length, first present word


@dataclass
class AirStats:
    """Frames read, per-reason skip counts and link types seen."""

    frames: int = 0
    parsed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    linktypes: dict[int, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)  # beacon, probe_req, data, ble_adv...

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "parsed": self.parsed,
            "skipped": dict(self.skipped),
            "linktypes": {str(k): v for k, v in self.linktypes.items()},
            "kinds": dict(self.kinds),
        }


@dataclass
class _Tx:
    """What one transmitter (an 802.11 MAC or a BLE advertiser address) did."""

    kind: str  # "wifi" | "ble"
    first: float
    last: float
    frames: int = 0
    beacons: int = 0
    probe_resps: int = 0
    probe_reqs: int = 0
    data: int = 0
    rx_data: int = 0  # data frames addressed to it (an AP talking to it)
    ssids: set[str] = field(default_factory=set)  # announced (beacons / probe responses)
    hidden_ssid: bool = False
    probed: set[str] = field(default_factory=set)  # asked for in probe requests
    bssids: set[bytes] = field(default_factory=set)  # APs it talks to as a client
    channels: set[int] = field(default_factory=set)
    sig_min: int | None = None
    sig_max: int | None = None
    privacy: bool | None = None
    rsn: bool = False
    wpa: bool = False
    ble_companies: set[int] = field(default_factory=set)
    ble_names: set[str] = field(default_factory=set)
    ble_public: bool | None = None


def _mac(b: bytes) -> str:
    return b.hex(":")


def _freq_to_channel(freq: int) -> int | None:
    if freq == 2484:
        return 14
    if 2412 <= freq < 2484:
        return (freq - 2407) // 5
    if 5000 <= freq <= 5900:
        return (freq - 5000) // 5
    if 5955 <= freq <= 7115:  # 6 GHz
        return (freq - 5950) // 5
    return None


def _text(raw: bytes) -> str:
    """SSIDs are octets; show them as UTF-8 where they are, escaped elsewhere, clipped."""
    return raw[:32].decode("utf-8", "backslashreplace")


class _Radiotap:
    """Offsets of the fields we read for one sequence of present words (cached per sequence).

    Offsets are relative to the header start, where radiotap alignment is counted from.
    The walk stops at the first vendor namespace (its length is in each frame's bytes)
    or at an unknown field: the fields we read come first in practice, and whatever
    was located before that point stays valid.
    """

    __slots__ = ("channel", "flags", "signal", "xchannel")

    def __init__(self, words: list[int], data_start: int) -> None:
        self.flags = self.channel = self.signal = self.xchannel = -1
        off = data_start
        base = 0  # bit number of the current word's bit 0 in the default namespace
        for word in words:
            for bit in range(29):
                if not word >> bit & 1:
                    continue
                spec = _RT_FIELDS.get(base + bit)
                if spec is None:
                    return  # an unknown field: nothing after it can be located
                align, size = spec
                off = (off + align - 1) & -align
                num = base + bit
                if num == 1 and self.flags < 0:
                    self.flags = off
                elif num == 3 and self.channel < 0:
                    self.channel = off
                elif num == 5 and self.signal < 0:
                    self.signal = off
                elif num == 18 and self.xchannel < 0:
                    self.xchannel = off
                off += size
            if word & (1 << 30):
                return  # vendor namespace next: its skip_length varies per frame
            base = 0 if word & (1 << 29) else base + 32


class AirParser:
    """Accumulate per-transmitter state from frames; :meth:`observations` reports it."""

    def __init__(self, source: str = "") -> None:
        self.source = source
        self.stats = AirStats()
        self.tx: dict[bytes, _Tx] = {}
        self._rt_cache: dict[bytes, _Radiotap] = {}

    # --- entry point -----------------------------------------------------------------

    def feed(self, linktype: int, ts: float, buf: Any, off: int, caplen: int) -> None:
        """Parse one captured frame at ``buf[off : off + caplen]``; never raises for content."""
        stats = self.stats
        stats.frames += 1
        stats.linktypes[linktype] = stats.linktypes.get(linktype, 0) + 1
        end = off + caplen
        if end > len(buf) or caplen < 0:
            stats.skip("truncated")
            return
        try:
            if linktype == LINKTYPE_RADIOTAP:
                self._radiotap(ts, buf, off, end)
            elif linktype == LINKTYPE_IEEE802_11:
                self._dot11(ts, buf, off, end, None, None)
            elif linktype == LINKTYPE_PRISM:
                self._prism(ts, buf, off, end)
            elif linktype == LINKTYPE_AVS:
                self._avs(ts, buf, off, end)
            elif linktype in BLE_LINKTYPES:
                self._ble(ts, buf, off, end, linktype)
            else:
                stats.skip("unknown_linktype")
        except (struct.error, IndexError, ValueError):  # a length we checked lied: skip
            stats.skip("malformed")

    # --- link-layer headers ----------------------------------------------------------

    def _radiotap(self, ts: float, buf: Any, off: int, end: int) -> None:
        stats = self.stats
        if end - off < 8:
            stats.skip("truncated")
            return
        version, _pad, rt_len, present = _RT_HDR.unpack_from(buf, off)
        if version != 0:
            stats.skip("bad_radiotap")
            return
        if rt_len < 8 or rt_len > MAX_RADIOTAP:
            stats.skip("absurd_length")
            return
        if off + rt_len > end:
            stats.skip("truncated")  # a plausible header cut by the snap length
            return
        # The present words run until one without bit 31 (extended bitmap).
        p = off + 4
        words_end = p + 4
        word = present
        while word & 0x80000000:
            if words_end + 4 > off + rt_len:
                stats.skip("bad_radiotap")
                return
            (word,) = struct.unpack_from("<I", buf, words_end)
            words_end += 4
            if words_end - p > 64:  # more than 16 bitmaps: not a real header
                stats.skip("bad_radiotap")
                return
        key = bytes(buf[p:words_end])
        rt = self._rt_cache.get(key)
        if rt is None:
            words = [int.from_bytes(key[i : i + 4], "little") for i in range(0, len(key), 4)]
            rt = _Radiotap(words, words_end - off)
            if len(self._rt_cache) < 4096:
                self._rt_cache[key] = rt
        flags = 0
        chan: int | None = None
        sig: int | None = None
        if rt.flags >= 0 and rt.flags < rt_len:
            flags = buf[off + rt.flags]
        if rt.channel >= 0 and rt.channel + 2 <= rt_len:
            chan = _freq_to_channel(_U16.unpack_from(buf, off + rt.channel)[0])
        elif rt.xchannel >= 0 and rt.xchannel + 8 <= rt_len:
            chan = buf[off + rt.xchannel + 6] or None
        if rt.signal >= 0 and rt.signal < rt_len:
            s = buf[off + rt.signal]
            sig = s - 256 if s > 127 else s
        if flags & _FLAG_BADFCS:
            stats.skip("bad_fcs")
            return
        if flags & _FLAG_FCS:
            end -= 4
        self._dot11(ts, buf, off + rt_len, end, chan, sig)

    def _prism(self, ts: float, buf: Any, off: int, end: int) -> None:
        # Prism monitor header: msgcode u32, msglen u32, devname[16], then 10 DIDs of
        # 12 bytes (did, status u16, len u16, data u32); channel is item 3, signal item 6.
        if end - off < 8:
            self.stats.skip("truncated")
            return
        (msglen,) = struct.unpack_from("<I", buf, off + 4)
        if msglen < 24 or off + msglen > end:
            self.stats.skip("absurd_length")
            return
        chan = sig = None
        if msglen >= 24 + 12 * 7:
            (chan,) = struct.unpack_from("<I", buf, off + 24 + 12 * 2 + 8)
            (sig,) = struct.unpack_from("<i", buf, off + 24 + 12 * 5 + 8)
        ch = chan if isinstance(chan, int) and 0 < chan < 200 else None
        s = sig if isinstance(sig, int) and -120 <= sig <= 20 else None
        self._dot11(ts, buf, off + msglen, end, ch, s)

    def _avs(self, ts: float, buf: Any, off: int, end: int) -> None:
        # AVS (wlan-ng) header, big-endian: version u32, length u32, ... channel @28,
        # ssi_type @40, ssi_signal s32 @44.
        if end - off < 8:
            self.stats.skip("truncated")
            return
        (hlen,) = struct.unpack_from(">I", buf, off + 4)
        if hlen < 8 or off + hlen > end:
            self.stats.skip("absurd_length")
            return
        chan = sig = None
        if hlen >= 48:
            (c,) = struct.unpack_from(">I", buf, off + 28)
            chan = c if 0 < c < 200 else None
            ssi_type, ssi = struct.unpack_from(">Ii", buf, off + 40)
            sig = ssi if ssi_type == 2 and -120 <= ssi <= 20 else None  # 2: dBm
        self._dot11(ts, buf, off + hlen, end, chan, sig)

    # --- 802.11 ----------------------------------------------------------------------

    def _get(self, mac: bytes, ts: float, kind: str = "wifi") -> _Tx:
        tx = self.tx.get(mac)
        if tx is None:
            tx = self.tx[mac] = _Tx(kind, ts, ts)
        return tx

    def _seen(self, tx: _Tx, ts: float, chan: int | None, sig: int | None) -> None:
        tx.frames += 1
        if ts > tx.last:
            tx.last = ts
        elif ts < tx.first:
            tx.first = ts
        if chan is not None:
            tx.channels.add(chan)
        if sig is not None:
            if tx.sig_min is None or sig < tx.sig_min:
                tx.sig_min = sig
            if tx.sig_max is None or sig > tx.sig_max:
                tx.sig_max = sig

    def _dot11(
        self, ts: float, buf: Any, off: int, end: int, chan: int | None, sig: int | None
    ) -> None:
        stats = self.stats
        n = end - off
        if n < 10:
            stats.skip("truncated")
            return
        fc = buf[off]
        if fc & 3:  # protocol version must be 0
            stats.skip("bad_80211")
            return
        ftype = (fc >> 2) & 3
        if ftype == 0:  # management
            if n < 24:
                stats.skip("truncated")
                return
            sub = fc >> 4
            ta = bytes(buf[off + 10 : off + 16])
            if ta[0] & 1:  # a group address cannot transmit
                stats.skip("bad_80211")
                return
            stats.parsed += 1
            tx = self._get(ta, ts)
            self._seen(tx, ts, chan, sig)
            if sub == 8 or sub == 5:  # beacon / probe response
                kind = "beacon" if sub == 8 else "probe_resp"
                stats.kinds[kind] = stats.kinds.get(kind, 0) + 1
                if sub == 8:
                    tx.beacons += 1
                    count = tx.beacons
                else:
                    tx.probe_resps += 1
                    count = tx.probe_resps
                if n < 36:
                    stats.skip("truncated")
                    return
                if count <= 4 or count % IE_RESAMPLE == 0:
                    (cap,) = _U16.unpack_from(buf, off + 34)
                    tx.privacy = bool(cap & 0x10)
                    self._ies(tx, buf, off + 36, end, announce=True)
            elif sub == 4:  # probe request
                stats.kinds["probe_req"] = stats.kinds.get("probe_req", 0) + 1
                tx.probe_reqs += 1
                self._ies(tx, buf, off + 24, end, announce=False)
            elif sub in (0, 2, 11):  # (re)association request, authentication
                bssid = bytes(buf[off + 16 : off + 22])
                if len(tx.bssids) < MAX_PEERS:
                    tx.bssids.add(bssid)
                stats.kinds["assoc"] = stats.kinds.get("assoc", 0) + 1
            else:
                stats.kinds["mgmt_other"] = stats.kinds.get("mgmt_other", 0) + 1
        elif ftype == 2:  # data
            if n < 24:
                stats.skip("truncated")
                return
            ds = buf[off + 1] & 3
            a1 = bytes(buf[off + 4 : off + 10])
            ta = bytes(buf[off + 10 : off + 16])
            if ta[0] & 1:
                stats.skip("bad_80211")
                return
            stats.parsed += 1
            stats.kinds["data"] = stats.kinds.get("data", 0) + 1
            tx = self._get(ta, ts)
            self._seen(tx, ts, chan, sig)
            tx.data += 1
            if ds == 1:  # to DS: a client sending to its AP (addr1 = BSSID)
                if len(tx.bssids) < MAX_PEERS:
                    tx.bssids.add(a1)
            elif ds == 2 and not a1[0] & 1:  # from DS: the AP (addr2) to a client (addr1)
                client = self._get(a1, ts)
                client.rx_data += 1
                if ts > client.last:
                    client.last = ts
                if len(client.bssids) < MAX_PEERS:
                    client.bssids.add(ta)
        elif ftype == 1:  # control: no transmitter address worth keeping
            stats.kinds["control"] = stats.kinds.get("control", 0) + 1
        else:
            stats.skip("bad_80211")

    def _ies(self, tx: _Tx, buf: Any, p: int, end: int, announce: bool) -> None:
        while p + 2 <= end:
            eid = buf[p]
            ln = buf[p + 1]
            q = p + 2
            if q + ln > end:
                self.stats.skip("truncated_ie")
                return
            if eid == 0:
                raw = bytes(buf[q : q + ln])
                if announce:
                    if ln == 0 or not raw.strip(b"\x00"):
                        tx.hidden_ssid = True  # zero-length or all-NUL: a hidden network
                    elif len(tx.ssids) < MAX_SSIDS:
                        tx.ssids.add(_text(raw))
                elif ln and len(tx.probed) < MAX_SSIDS:
                    tx.probed.add(_text(raw))
            elif (eid == 3 or eid == 61) and ln >= 1:  # DS parameter set / HT operation
                tx.channels.add(buf[q])
            elif eid == 48:
                tx.rsn = True
            elif eid == 221 and ln >= 4 and bytes(buf[q : q + 4]) == b"\x00\x50\xf2\x01":
                tx.wpa = True
            p = q + ln

    # --- BLE -------------------------------------------------------------------------

    def _ble(self, ts: float, buf: Any, off: int, end: int, linktype: int) -> None:
        stats = self.stats
        sig: int | None = None
        chan: int | None = None
        if linktype == LINKTYPE_BLE_LL_PHDR:
            # 10-byte pseudo-header: rf_channel u8, signal s8, noise s8, aa_offenses u8,
            # ref_access_address u32, flags u16.
            if end - off < 10:
                stats.skip("truncated")
                return
            chan = buf[off]
            (flags,) = _U16.unpack_from(buf, off + 8)
            if flags & 0x0002:  # signal power valid
                s = buf[off + 1]
                sig = s - 256 if s > 127 else s
            off += 10
        if end - off < 6 + 6:
            stats.skip("truncated")
            return
        (aa,) = struct.unpack_from("<I", buf, off)
        if aa != BLE_ADV_ACCESS_ADDRESS:
            stats.kinds["ble_other"] = stats.kinds.get("ble_other", 0) + 1
            return
        h0 = buf[off + 4]
        ln = buf[off + 5]
        pdu_type = h0 & 0x0F
        tx_add = bool(h0 & 0x40)
        if off + 6 + ln > end or ln < 6:
            stats.skip("truncated")
            return
        # ADV_IND, ADV_NONCONN_IND, ADV_SCAN_IND, SCAN_RSP carry AdvA + AD structures
        if pdu_type not in (0, 2, 4, 6):
            stats.kinds["ble_other"] = stats.kinds.get("ble_other", 0) + 1
            return
        adva = bytes(buf[off + 6 : off + 12])[::-1]  # little-endian on air
        stats.parsed += 1
        stats.kinds["ble_adv"] = stats.kinds.get("ble_adv", 0) + 1
        tx = self._get(b"B" + adva, ts, "ble")
        tx.ble_public = not tx_add
        self._seen(tx, ts, chan, sig)
        p = off + 12
        stop = off + 6 + ln
        while p + 1 < stop:
            alen = buf[p]
            if alen == 0:
                break
            if p + 1 + alen > stop:
                stats.skip("truncated_ie")
                break
            ad_type = buf[p + 1]
            if ad_type == 0xFF and alen >= 3:
                tx.ble_companies.add(_U16.unpack_from(buf, p + 2)[0])
            elif ad_type in (0x08, 0x09) and len(tx.ble_names) < MAX_SSIDS:
                tx.ble_names.add(_text(bytes(buf[p + 2 : p + 1 + alen])))
            p += 1 + alen

    # --- results ---------------------------------------------------------------------

    def observations(self) -> list[Observation]:
        """Return one ``air`` observation per transmitter (schema in docs/observations.md)."""
        out: list[Observation] = []
        for key, tx in sorted(self.tx.items()):
            if tx.kind == "ble":
                mac = _mac(key[1:])
                data: dict[str, Any] = {
                    "kind": "ble",
                    "address_type": "public" if tx.ble_public else "random",
                    "ble_company_ids": sorted(tx.ble_companies),
                    "ble_names": sorted(tx.ble_names),
                }
            else:
                mac = _mac(key)
                is_ap = bool(tx.beacons or tx.probe_resps)
                data = {
                    "kind": "wifi",
                    "role": "ap" if is_ap else "client",
                    "ssids": sorted(tx.ssids),
                    "hidden_ssid": tx.hidden_ssid,
                    "probed_ssids": sorted(tx.probed),
                    "bssids": sorted(_mac(b) for b in tx.bssids),
                    "privacy": tx.privacy,
                    "rsn": tx.rsn,
                    "wpa": tx.wpa,
                    "beacons": tx.beacons,
                    "probe_responses": tx.probe_resps,
                    "probe_requests": tx.probe_reqs,
                    "data_frames": tx.data,
                    "data_frames_received": tx.rx_data,
                    "ble_company_ids": [],
                }
            data.update(
                {
                    "channels": sorted(tx.channels),
                    "signal_dbm_min": tx.sig_min,
                    "signal_dbm_max": tx.sig_max,
                    "frames": tx.frames,
                    "first_seen": tx.first,
                    "last_seen": tx.last,
                    "source": self.source,
                }
            )
            out.append(Observation("air", "", data, mac=mac, at=tx.first))
        return out


@dataclass
class AirCapture:
    """The result of reading capture files: observations plus both layers' counters."""

    observations: list[Observation]
    stats: AirStats
    read: ReadStats

    def summary(self) -> dict[str, Any]:
        return {"frames": self.stats.to_dict(), "files": self.read.to_dict()}


def is_air_capture(path: str | Path) -> bool:
    """Return True when the first packet record of ``path`` has an 802.11/BLE link type.

    For ``camaudit pcap`` to hand 802.11 files here. Raises OSError when unreadable.
    """
    with CaptureReader(path, ReadStats()) as reader:
        for linktype, *_ in reader.records():
            return linktype in AIR_LINKTYPES
    return False


def read_air(paths: Iterable[str | Path], parser: AirParser | None = None) -> AirCapture:
    """Parse every frame of the capture files ``paths``; return their observations.

    Raises OSError when a file cannot be opened; anything wrong inside a file is
    counted (``read`` for framing, ``stats`` for frames), never raised.
    """
    read = ReadStats()
    names = [str(p) for p in paths]
    parser = parser or AirParser(source=", ".join(Path(n).name for n in names)[:200])
    feed = parser.feed
    for name in names:
        with CaptureReader(name, read) as reader:
            buf = reader.buf
            for linktype, ts, caplen, _wirelen, off in reader.records():
                feed(linktype, ts, buf, off, caplen)
    return AirCapture(parser.observations(), parser.stats, read)
