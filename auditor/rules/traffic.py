"""Traffic rules: what a device's own packets say it does (``flows`` observations).

Every rule judges through :func:`auditor.traffic.assess`, under the site policy set by
:func:`auditor.traffic.use_policy`. Traffic the site allows (its resolvers, NTP servers,
VMS, allowed destinations) is never cited. Evidence quotes the flow: protocol, name,
address and port, packets and bytes each way, first-seen time, and the catalog entry
that matched with the signal that matched it.
"""

from __future__ import annotations

from auditor.model import Device, Evidence, Severity
from auditor.rules.registry import Hit, rule
from auditor.traffic import DeviceTraffic, FlowView, assess, drift, timestamp

EVIDENCE_MAX = 12  # flows quoted per finding; the rest are counted in the last item


def _cite(views: list[FlowView], claim: str) -> list[Evidence]:
    ev = [
        Evidence(
            source=v.origin,
            detail=v.describe(),
            value=f"{v.flow.get('proto')}/{v.flow.get('peer')}:{v.flow.get('peer_port')}",
            claim=claim,
        )
        for v in views[:EVIDENCE_MAX]
    ]
    if len(views) > EVIDENCE_MAX:
        ev.append(Evidence("flows", f"... and {len(views) - EVIDENCE_MAX} more flows"))
    return ev


def _unallowed(t: DeviceTraffic, *categories: str) -> list[FlowView]:
    return [
        v
        for v in t.flows
        if v.outbound and v.internet and not v.allowed and v.categories & set(categories)
    ]


def _vendors(views: list[FlowView], *categories: str) -> str:
    names = []
    for v in views:
        for m in v.matches:
            if m.endpoint.category in categories and m.endpoint.vendor not in names:
                names.append(m.endpoint.vendor)
    return ", ".join(names)


@rule(
    "CAM-NET-P2P",
    severity=Severity.HIGH,
    title="Device contacts a P2P relay service",
    rationale="""The device registered with or reached a peer-to-peer relay (CS2 Network,
    ThroughTek Kalay, Easy4IP, Hik-Connect, XMEye and similar). P2P brokers let anyone with
    the device's UID reach it from the internet through the site's firewall, and their
    weaknesses have exposed millions of cameras.""",
    remediation="""Disable P2P / cloud in the device settings, block the catalogued names
    and ports at the site firewall, and re-capture to confirm the traffic stopped.""",
    references=("CVE-2021-28372 (ThroughTek Kalay)", "CVE-2019-11219 (CS2 / iLnkP2P)"),
)
def p2p_relay(dev: Device) -> Hit | None:
    views = _unallowed(assess(dev), "p2p")
    if not views:
        return None
    return Hit(
        _cite(views, "traffic=p2p"), title=f"Device contacts a P2P relay ({_vendors(views, 'p2p')})"
    )


@rule(
    "CAM-NET-CLOUD",
    severity=Severity.MEDIUM,
    title="Device talks to a vendor cloud",
    rationale="""The device reached a vendor cloud, DDNS, update or telemetry service named in
    camaudit's endpoint catalog. Data about the site (and sometimes video) leaves the city's
    hands, to a party the city has no contract with.""",
    remediation="""Switch the cloud service off on the device unless the site approved it; if
    it did, add the destination to the site policy's allowed destinations.""",
)
def vendor_cloud(dev: Device) -> Hit | None:
    cats = ("cloud", "ddns", "update", "telemetry")
    views = [v for v in _unallowed(assess(dev), *cats) if "p2p" not in v.categories]
    if not views:
        return None
    return Hit(
        _cite(views, "traffic=cloud"),
        title=f"Device talks to a vendor cloud ({_vendors(views, *cats)})",
    )


@rule(
    "CAM-NET-STUN",
    severity=Severity.MEDIUM,
    title="Device uses STUN to find its public address",
    rationale="""STUN (RFC 5389) tells a device its public address and port: the first step of
    punching through the site's NAT so that outsiders can reach it directly.""",
    remediation="""Block UDP 3478/19302 and the vendor's STUN names at the firewall; disable
    P2P on the device.""",
)
def stun(dev: Device) -> Hit | None:
    views = _unallowed(assess(dev), "stun")
    return Hit(_cite(views, "traffic=stun")) if views else None


@rule(
    "CAM-NET-DNS-HARDCODED",
    severity=Severity.MEDIUM,
    title="Device uses a hard-coded DNS resolver",
    rationale="""The device sent DNS queries to a server other than the site's resolvers
    (without a site resolver configured: to a server on the internet). Firmware that
    hard-codes public resolvers (114.114.114.114, 8.8.8.8) bypasses the city's DNS filtering
    and logging and leaks which services it uses.""",
    remediation="""Configure the device to use the site resolver and block outbound DNS (UDP
    and TCP 53) from the camera network except to it.""",
)
def dns_hardcoded(dev: Device) -> Hit | None:
    t = assess(dev)
    pol = t.policy
    views = [
        v
        for v in t.flows
        if v.outbound
        and v.flow.get("peer_port") == 53
        and not v.allowed
        and (not pol.is_site_resolver(str(v.flow.get("peer"))))
        and (pol.resolvers or v.internet)
    ]
    if not views:
        return None
    servers = sorted({str(v.flow.get("peer")) for v in views})
    ev = _cite(views, "traffic=dns")
    asked = [q for _o, q in t.dns if q.get("server") in servers and q.get("queries")]
    for q in asked[:EVIDENCE_MAX]:
        ev.append(
            Evidence(
                "flows",
                f"asked {q.get('server')} for {q.get('name')} ({q.get('queries')}x, first "
                f"{timestamp(q.get('first_seen'))})",
                value=str(q.get("name")),
                claim="traffic=dns",
            )
        )
    return Hit(ev, title=f"Device uses a hard-coded DNS resolver ({', '.join(servers)})")


@rule(
    "CAM-NET-UPNP-PORTMAP",
    severity=Severity.HIGH,
    title="Device opens a port on the internet gateway (UPnP AddPortMapping)",
    rationale="""The device asked the gateway, over UPnP IGD, to forward a public port to
    itself: the camera becomes reachable from the whole internet, bypassing the firewall
    policy.""",
    remediation="""Disable UPnP on the device and on the gateway; remove existing mappings;
    check the gateway for other mappings.""",
)
def upnp_portmap(dev: Device) -> Hit | None:
    t = assess(dev)
    maps = [(o, e) for o, e in t.upnp if e.get("kind") == "add-port-mapping"]
    searches = [
        (o, e)
        for o, e in t.upnp
        if e.get("kind") == "m-search" and "internetgateway" in str(e.get("st", "")).lower()
    ]
    ev = [
        Evidence(
            o,
            f"AddPortMapping to {e.get('server')}:{e.get('port')}: external "
            f"{e.get('protocol')} {e.get('external_port')} -> {e.get('internal_client')}:"
            f"{e.get('internal_port')} ({e.get('description') or 'no description'}) at "
            f"{timestamp(e.get('at'))}",
            value=f"{e.get('protocol')}/{e.get('external_port')}",
            claim="traffic=upnp",
        )
        for o, e in maps[:EVIDENCE_MAX]
    ]
    if ev:
        return Hit(ev)
    if searches:
        o, e = searches[0]
        return Hit(
            [
                Evidence(
                    o,
                    f"SSDP M-SEARCH for {e.get('st')} at {timestamp(e.get('at'))}",
                    value=str(e.get("st")),
                    claim="traffic=upnp",
                )
            ],
            title="Device looks for an internet gateway to map ports (UPnP)",
            severity=Severity.LOW,
        )
    return None


@rule(
    "CAM-NET-ISOLATION",
    severity=Severity.HIGH,
    title="Device on an isolated network reaches the internet",
    rationale="""The site policy says cameras are isolated, yet this device exchanged
    traffic with addresses outside the site's networks that the policy does not allow.""",
    remediation="""Find the path out (default route, NAT, a second interface or radio) and
    close it; add legitimate destinations to the site policy.""",
)
def isolation(dev: Device) -> Hit | None:
    t = assess(dev)
    if not t.policy.isolated:
        return None
    views = [v for v in t.flows if v.internet and not v.allowed]
    return Hit(_cite(views, "traffic=internet")) if views else None


@rule(
    "CAM-NET-NTP-EXTERNAL",
    severity=Severity.LOW,
    title="Device takes its time from outside the site",
    rationale="""The device synchronises its clock with a vendor or public NTP server, not
    the site's: the footage's timestamps then depend on a server the city does not control,
    and the queries announce the device to the outside.""",
    remediation="""Point the device at the site's NTP server and block outbound UDP 123.""",
)
def ntp_external(dev: Device) -> Hit | None:
    views = [
        v
        for v in assess(dev).flows
        if v.outbound
        and v.internet
        and not v.allowed
        and v.flow.get("proto") == "udp"
        and v.flow.get("peer_port") == 123
    ]
    return Hit(_cite(views, "traffic=ntp")) if views else None


@rule(
    "CAM-NET-BASELINE-DRIFT",
    severity=Severity.MEDIUM,
    title="Device reaches destinations outside its learned baseline",
    rationale="""Compared with the baseline the auditor accepted for this device or model
    (destinations learned from earlier captures, MUD-style), the device now talks to new
    destinations: a firmware update, a configuration change, or a compromise.""",
    remediation="""Review the new destinations; if legitimate, re-learn and accept the
    baseline, otherwise block them and investigate the device.""",
)
def baseline_drift(dev: Device) -> Hit | None:
    t = assess(dev)
    views = drift(dev, t)
    return Hit(_cite(views, "traffic=drift")) if views else None
