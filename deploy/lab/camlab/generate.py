"""Turn profiles and a seed into the lab's devices (deterministic for a seed).

``generate(cameras, seed)`` returns ``cameras`` cameras drawn from every camera profile
(each profile and each quirk appears at least once from 20 cameras up) plus the three
non-camera neighbours ``pc01``, ``prn01`` and ``sw01``. About 80 % of the cameras sit on
the probe's subnet (198.18.0.0/22, from .10 up), every fifth one on the routed district
(198.18.8.0/24, from .10 up).

Generated shapes, beyond the profile sections copied with placeholders filled in:

- ``radios``: ``{"kind": "wifi", "reported": bool, "mac", "ssid", "channel"}`` (a
  reported radio appears in ONVIF GetNetworkInterfaces as ifType 71; an unreported one
  is the hidden module of the Lahore case) and ``{"kind": "cellular", "reported": bool,
  "imei"}`` (ifType 243 when reported). A profile's ``[radios] cellular_modem`` share
  adds a cellular radio after everything else is drawn (:func:`_modems`); on a Hikvision
  board its ISAPI answers the wireless dial resource.
- ``onvif["profiles"]``: media profiles ``{"token", "name", "path", "width", "height"}``
  built from the RTSP paths.
- ``rtsp["engine"]``: ``"gstreamer"`` (a real stream) or ``"fake"`` (the
  ``rtsp_any_path_200`` quirk: 200 + SDP for any path, never any RTP).
"""

from __future__ import annotations

import ipaddress
import random
import re
import string
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from . import features, wifimode
from .errors import LabError
from .profile import QUIRKS, Profile, load_profiles
from .spec import (
    LOCAL_SUBNET,
    ROUTED_SUBNET,
    ROUTER_LOCAL_IP,
    ROUTER_ROUTED_IP,
    LabDevice,
)

__all__ = ["LAB_PASSWORD", "Profile", "generate", "load_profiles"]

# Documented in the lab docs: the password of every device not left on a vendor default.
LAB_PASSWORD = "Camlab-2026!"
NEIGHBOURS = (("computer", "pc01", "198.18.0.5"), ("printer", "prn01", "198.18.0.6"),
              ("switch", "sw01", "198.18.0.7"))  # fmt: skip
ROUTED_EVERY = 5  # one camera in five sits behind the router
MIN_FOR_FULL_MIX = 20
_FIRST_HOST = 10
_LAST_LOCAL = ipaddress.IPv4Address("198.18.3.250")  # .251-.254 stay for infrastructure
_LAST_ROUTED = ipaddress.IPv4Address("198.18.8.250")
_WIFI_CHANNELS = (1, 6, 11, 36, 44, 149)
_ALPHABETS = {
    "digits": string.digits,
    "alnum": string.ascii_uppercase + string.digits,
    "hex": "0123456789abcdef",
}
_RANDOM_FIELD = re.compile(r"^(digits|alnum|hex)(\d{1,2})$")


class _Fields(dict[str, str]):
    """Template values; ``digitsN`` / ``alnumN`` / ``hexN`` draw fresh random characters."""

    def __init__(self, rng: random.Random, values: dict[str, str]) -> None:
        super().__init__(values)
        self.rng = rng

    def __missing__(self, key: str) -> str:
        m = _RANDOM_FIELD.match(key)
        if not m:
            raise KeyError(key)
        return "".join(self.rng.choices(_ALPHABETS[m.group(1)], k=int(m.group(2))))


def _render(value: Any, fields: _Fields) -> Any:
    if isinstance(value, str):
        return string.Template(value).substitute(fields)
    if isinstance(value, list):
        return [_render(v, fields) for v in value]
    if isinstance(value, dict):
        return {k: _render(v, fields) for k, v in value.items()}
    return value


def _hosts(first: str, last: ipaddress.IPv4Address) -> Iterator[str]:
    addr = ipaddress.IPv4Address(first)
    while addr <= last:
        if int(addr) & 0xFF not in (0, 255):
            yield str(addr)
        addr += 1


class _Generator:
    def __init__(self, profiles: list[Profile], seed: int) -> None:
        self.rng = random.Random(seed)
        self.profiles = profiles
        self.macs: set[str] = set()
        self.serials: set[str] = set()
        self.radio_cfg: dict[str, dict[str, Any]] = {}  # device name -> rendered [radios]

    def mac(self, profile: Profile) -> str:
        for _ in range(1000):
            mac_cfg = profile.data["mac"]
            if mac_cfg.get("locally_administered"):
                first = (self.rng.randrange(256) & 0xFC) | 0x02  # unicast, locally administered
                octets = [first] + [self.rng.randrange(256) for _ in range(5)]
                mac = ":".join(f"{o:02x}" for o in octets)
            else:
                oui = self.rng.choice(mac_cfg["ouis"]).lower()
                tail = ":".join(f"{self.rng.randrange(256):02x}" for _ in range(3))
                mac = f"{oui}:{tail}"
            # keep room for the radio MACs (wired MAC + 1..3) to stay unique too
            if mac not in self.macs and mac.endswith(("0", "4", "8", "c")):
                self.macs.add(mac)
                return mac
        raise LabError(f"{profile.path}: ran out of unique MAC addresses")

    def device(self, profile: Profile, name: str, ip: str, subnet: str, gw: str) -> LabDevice:
        rng, d = self.rng, profile.data
        model = rng.choice(d["models"])
        firmware = rng.choice(d["firmware"])
        mac = self.mac(profile)
        dev_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        made = date(2018, 1, 1) + timedelta(days=rng.randrange(365 * 6))
        version, _, build = firmware.partition(" build ")
        fields = _Fields(
            rng,
            {
                "name": name, "model": model, "mac": mac, "uuid": dev_uuid, "ip": ip,
                "mac_plain": mac.replace(":", "").upper(), "vendor": profile.vendor,
                "model_short": model.removeprefix("AXIS "), "firmware": firmware,
                "firmware_version": version, "firmware_build": build or made.strftime("%y%m%d"),
                "date": made.strftime("%Y%m%d"),
            },
        )  # fmt: skip
        try:
            for _ in range(100):
                serial = string.Template(d["serial"]).substitute(fields)
                if serial not in self.serials:
                    break
            else:
                raise LabError(f"{profile.path}: serial format yields no unique serials")
            self.serials.add(serial)
            fields.update(serial=serial, serial_tail5=serial[-5:])
            sections = {k: _render(d.get(k), fields) for k in ("http", "rtsp", "onvif")}
            wsd = _render(d.get("wsdiscovery"), fields)
            hardware_id = _render(d.get("hardware_id", ""), fields)
            radios_cfg = _render(d.get("radios") or {}, fields)
            vendor_ports = [
                {k: v for k, v in vp.items() if k != "share"}
                for vp in d.get("vendor_ports", [])
                if rng.random() < float(vp.get("share", 1.0))
            ]
            phone_home = [
                {k: _render(v, fields) for k, v in e.items() if k != "share"}
                for e in d.get("phone_home", [])
                if rng.random() < float(e.get("share", 1.0))
            ]
        except (KeyError, ValueError) as exc:
            raise LabError(f"{profile.path}: bad placeholder in a template: {exc}") from exc
        default_pw = rng.random() < float(d.get("default_password_share", 0.0))
        dev = LabDevice(
            name=name, netns=f"camlab-{name}", kind=profile.kind, profile=profile.id,
            vendor=profile.vendor, oem=profile.oem, model=model, firmware=firmware,
            serial=serial, mac=mac, ip=ip, subnet=subnet, gateway=gw,
            hardware_id=hardware_id, endpoint_uuid=dev_uuid,
            http=sections["http"] or {}, vendor_ports=vendor_ports, phone_home=phone_home,
            username=str(d.get("username", "admin")),
            password=str(d.get("default_password", "")) if default_pw else LAB_PASSWORD,
            default_password=default_pw,
            advisories=[
                {"id": a["id"], "kev": a["kev"]} for a in d.get("advisory", [])
                if firmware in a["firmware"] and model in a.get("models", [model])
            ],
        )  # fmt: skip
        if sections["rtsp"]:
            dev.rtsp = {"port": 554, "auth": "none", "codec": "h264", **sections["rtsp"]}
            dev.rtsp["engine"] = "gstreamer"
        if sections["onvif"] and dev.rtsp:
            onvif = {"port": dev.http.get("port", 80), "auth": "required", **sections["onvif"]}
            onvif["profiles"] = [
                {"token": f"Profile_{i + 1}", "name": ("mainStream", "subStream")[min(i, 1)],
                 "path": path, "width": 1920 if i == 0 else 640, "height": 1080 if i == 0 else 360}
                for i, path in enumerate(dev.rtsp["paths"])
            ]  # fmt: skip
            dev.onvif = onvif
        if wsd:
            default_port = dev.onvif["port"] if dev.onvif else dev.http.get("port", 80)
            wsd.setdefault("xaddr_port", default_port)
            wsd.setdefault("xaddr_path", "/onvif/device_service")
            wsd.setdefault("metadata_version", 1)
            dev.wsdiscovery = wsd
        self.radio_cfg[name] = radios_cfg
        self.radios(dev, radios_cfg)
        for quirk, chance in profile.quirk_chances().items():
            if rng.random() < chance:
                self.add_quirk(dev, quirk)
        return dev

    def radios(self, dev: LabDevice, cfg: dict[str, Any], force: str = "") -> None:
        rng = self.rng
        base = int(dev.mac.replace(":", ""), 16)
        for kind, reported in (("wifi_reported", True), ("wifi_hidden", False)):
            if force == kind or (not force and rng.random() < float(cfg.get(kind, 0.0))):
                if any(r["kind"] == "wifi" for r in dev.radios):
                    continue
                offset = rng.randint(1, 3)  # Wi-Fi MAC = wired MAC + 1..3 on many boards
                mac = f"{base + offset:012x}"
                dev.radios.append({
                    "kind": "wifi", "reported": reported,
                    "mac": ":".join(mac[i : i + 2] for i in range(0, 12, 2)),
                    "ssid": str(cfg.get("ssid") or f"IPC-{dev.serial[-5:]}"),
                    "channel": rng.choice(_WIFI_CHANNELS),
                })  # fmt: skip
        want_cell = force == "cellular" or (
            not force and rng.random() < float(cfg.get("cellular", 0.0))
        )
        if want_cell and not any(r["kind"] == "cellular" for r in dev.radios):
            imei = "86" + "".join(rng.choices(string.digits, k=13))
            dev.radios.append({"kind": "cellular", "reported": rng.random() < 0.5, "imei": imei})

    def add_quirk(self, dev: LabDevice, quirk: str) -> None:
        if quirk in dev.quirks:
            return
        if quirk == "rtsp_any_path_200" and not dev.rtsp:
            return
        if quirk == "digest_only" and not dev.onvif:
            return
        if quirk == "unicast_only_discovery" and not dev.wsdiscovery:
            return
        dev.quirks.append(quirk)
        if quirk == "clock_skew":
            # minutes to hours, either way: a dead RTC battery or a wrong NTP setting
            dev.clock_skew_s = float(self.rng.choice((-1, 1)) * self.rng.randint(3 * 60, 5 * 3600))
        elif quirk == "rtsp_any_path_200" and dev.rtsp:
            dev.rtsp["engine"] = "fake"


def generate(
    cameras: int, seed: int, profile_dir: Path | None = None, hostile: int = 0
) -> list[LabDevice]:
    """Return ``cameras`` generated cameras plus the non-camera neighbours pc01/prn01/sw01.

    ``hostile`` adds that many hostile devices (``hostile-*`` profiles in turn, named
    ``hostileNN``, on the local subnet after the cameras); they never join the normal mix.

    Deterministic for ``(cameras, seed)`` and the profile files. Raises :class:`LabError`
    for a negative count, more cameras than the address plan holds, or a bad profile.
    """
    if cameras < 0:
        raise LabError(f"camera count must be >= 0, got {cameras}")
    profiles = load_profiles(profile_dir)
    cams = [p for p in profiles if p.kind == "camera" and not p.data.get("hostile")]
    # counterfeits never join the weighted mix: they replace cameras afterwards
    fakes = [p for p in cams if p.data.get("counterfeit_of")]
    cams = [p for p in cams if not p.data.get("counterfeit_of")]
    if cameras and not cams:
        raise LabError(f"no camera profiles in {profile_dir or 'the bundled profiles'}")
    gen = _Generator(profiles, seed)
    rng = gen.rng
    picks: list[Profile] = []
    if cameras >= len(cams):
        picks = list(cams)  # every profile at least once
    weights = [max(p.weight, 0.01) for p in cams]
    picks += rng.choices(cams, weights=weights, k=cameras - len(picks)) if cams else []
    rng.shuffle(picks)

    local, routed = _hosts("198.18.0.10", _LAST_LOCAL), _hosts("198.18.8.10", _LAST_ROUTED)
    devices: list[LabDevice] = []
    for i, profile in enumerate(picks):
        on_routed = i % ROUTED_EVERY == ROUTED_EVERY - 1
        ip = next(routed if on_routed else local, None)
        if ip is None:
            raise LabError(f"{cameras} cameras do not fit the lab's address plan")
        subnet, gw = (ROUTED_SUBNET, ROUTER_ROUTED_IP) if on_routed else (
            LOCAL_SUBNET, ROUTER_LOCAL_IP)  # fmt: skip
        devices.append(gen.device(profile, f"cam{i + 1:03d}", ip, subnet, gw))
    if cameras >= MIN_FOR_FULL_MIX:
        _cover(gen, devices, {p.id: p for p in cams})
    _counterfeit(gen, devices, fakes, seed, cover=cameras >= MIN_FOR_FULL_MIX)
    for kind, name, ip in NEIGHBOURS:
        neighbour = next((p for p in profiles if p.kind == kind), None)
        if neighbour is None:
            raise LabError(f"no {kind} profile: the lab needs its non-camera neighbours")
        devices.append(gen.device(neighbour, name, ip, LOCAL_SUBNET, ROUTER_LOCAL_IP))
    # last, from per-device generators: features never shift what the seed drew above
    configs = {p.id: p.section("features") or {} for p in profiles}
    features.assign(devices, configs, seed, cover=cameras >= MIN_FOR_FULL_MIX)
    _modems(gen, devices, seed, cover=cameras >= MIN_FOR_FULL_MIX)
    if hostile:
        devices += _hostile(gen, profiles, hostile, local)
    wifimode.stamp(devices)  # what each radio does on the air, for the vendor APIs to tell
    return devices


def _cover(gen: _Generator, cams: list[LabDevice], profiles: dict[str, Profile]) -> None:
    """Make sure every quirk and every radio case appears on at least one camera."""
    for quirk in QUIRKS:
        if any(quirk in c.quirks for c in cams):
            continue
        able = [c for c in cams if profiles[c.profile].quirk_chances().get(quirk, 0) > 0]
        for cam in gen.rng.sample(able, len(able)):
            gen.add_quirk(cam, quirk)
            if quirk in cam.quirks:
                break
    cases = {
        "wifi_reported": lambda r: r["kind"] == "wifi" and r["reported"],
        "wifi_hidden": lambda r: r["kind"] == "wifi" and not r["reported"],
        "cellular": lambda r: r["kind"] == "cellular",
    }
    for case, match in cases.items():
        if any(match(r) for c in cams for r in c.radios):
            continue
        able = [
            c for c in cams
            if not c.radios and float(gen.radio_cfg[c.name].get(case, 0)) > 0
        ]  # fmt: skip
        if able:
            cam = gen.rng.choice(able)
            gen.radios(cam, gen.radio_cfg[cam.name], force=case)


def _modems(gen: _Generator, devices: list[LabDevice], seed: int, cover: bool) -> None:
    """``[radios] cellular_modem``: a cellular modem added after everything else was drawn.

    Each camera draws from its own generator (``f"{seed}:{name}:modem"``), so a profile
    gaining the share never moves another device a seed produced. With ``cover``, at
    least one camera whose operator can log in gets one when some profile offers it.
    """

    def share(dev: LabDevice) -> float:
        return float(gen.radio_cfg.get(dev.name, {}).get("cellular_modem", 0.0))

    def add(dev: LabDevice, rng: random.Random) -> None:
        if any(r["kind"] == "cellular" for r in dev.radios):
            return
        imei = "86" + "".join(rng.choices(string.digits, k=13))
        dev.radios.append({"kind": "cellular", "reported": rng.random() < 0.5, "imei": imei})

    cams = [d for d in devices if d.kind == "camera"]
    added = []
    for dev in cams:
        rng = random.Random(f"{seed}:{dev.name}:modem")
        if rng.random() < share(dev) and not any(r["kind"] == "cellular" for r in dev.radios):
            add(dev, rng)
            added.append(dev)
    if not cover or added:
        return
    able = [d for d in cams if share(d) > 0 and not d.default_password
            and not any(r["kind"] == "cellular" for r in d.radios)]  # fmt: skip
    if able:
        rng = random.Random(f"{seed}:cover:modem")
        add(rng.choice(able), rng)


def _counterfeit(
    gen: _Generator, cams: list[LabDevice], fakes: list[Profile], seed: int, cover: bool
) -> None:
    """Replace some cameras of each counterfeit's ``counterfeit_of`` profile by it.

    Each such camera is replaced with probability ``counterfeit_share`` (with ``cover``,
    at least one is), keeping its name and address. Draws come from generators of their
    own (``f"{seed}:counterfeit..."``), so adding a counterfeit profile never changes any
    other device a seed produced (MACs and serials stay unique across the lab).
    """
    for fake in fakes:
        rng = random.Random(f"{seed}:counterfeit:{fake.id}")
        board = str(fake.data["counterfeit_of"])
        slots = [i for i, c in enumerate(cams) if c.profile == board]
        picked = [i for i in slots if rng.random() < float(fake.data.get("counterfeit_share", 0))]
        if cover and slots and not picked:
            picked = [rng.choice(slots)]
        for i in picked:
            old = cams[i]
            sub = _Generator(gen.profiles, 0)
            sub.rng = random.Random(f"{seed}:counterfeit:{fake.id}:{old.name}")
            sub.macs, sub.serials, sub.radio_cfg = gen.macs, gen.serials, gen.radio_cfg
            dev = sub.device(fake, old.name, old.ip, old.subnet, old.gateway)
            dev.counterfeit = True
            cams[i] = dev


def _hostile(
    gen: _Generator, profiles: list[Profile], count: int, addresses: Iterator[str]
) -> list[LabDevice]:
    """``count`` hostile devices, the ``hostile-*`` profiles in turn (camlab.services.hostile)."""
    from .services.hostile import validate

    kinds = [p for p in profiles if p.data.get("hostile")]
    if count < 0 or not kinds:
        raise LabError(f"cannot add {count} hostile devices: no hostile profiles or a bad count")
    out: list[LabDevice] = []
    for i in range(count):
        profile = kinds[i % len(kinds)]
        try:
            validate(list(profile.data["hostile"]))
        except (TypeError, ValueError) as exc:
            raise LabError(f"{profile.path}: {exc}") from exc
        ip = next(addresses, None)
        if ip is None:
            raise LabError(f"{count} hostile devices do not fit the lab's address plan")
        dev = gen.device(profile, f"hostile{i + 1:02d}", ip, LOCAL_SUBNET, ROUTER_LOCAL_IP)
        dev.hostile = list(profile.data["hostile"])
        out.append(dev)
    return out
