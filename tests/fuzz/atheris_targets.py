"""Coverage-guided fuzzing (atheris, libFuzzer) of the byte parsers; used by ``make fuzz``.

    python tests/fuzz/atheris_targets.py TARGET [libFuzzer options, e.g. -max_total_time=60]

Each target feeds raw bytes to one parser; the parser may return or raise its documented
error (``ParseError``), anything else is a crash libFuzzer reports with the input that
caused it (turn it into a regression test in tests/fuzz/). Not collected by pytest.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import atheris

with atheris.instrument_imports():
    from auditor.errors import ParseError
    from probes import http, rtsp_proto, vendor_port, wsdiscovery, x509


def _x509(data: bytes) -> None:
    x509.describe(data)


def _wsd(data: bytes) -> None:
    wsdiscovery.parse_message(data)


def _rtsp(data: bytes) -> None:
    resp = rtsp_proto.parse_response(data)
    for value in resp.all("www-authenticate"):
        rtsp_proto.parse_challenges(value)


def _http(data: bytes) -> None:
    http.parse_head(data)
    http.dechunk(data)
    http.title_of(data)


def _vendor(data: bytes) -> None:
    for service in ("xiongmai-discovery", "dahua-discovery", "hikvision-sadp"):
        vendor_port._udp_fields(service, data)


def _sdp(data: bytes) -> None:
    rtsp_proto.parse_sdp(data.decode("utf-8", "replace"))


TARGETS: dict[str, Callable[[bytes], None]] = {
    "x509": _x509, "wsdiscovery": _wsd, "rtsp": _rtsp, "http": _http, "vendor_port": _vendor,
    "sdp": _sdp,
}  # fmt: skip


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer options]")
    target = TARGETS[sys.argv[1]]

    def one(data: bytes) -> None:
        try:
            target(data)
        except ParseError:
            pass  # the documented refusal

    atheris.Setup([sys.argv[0], *sys.argv[2:]], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
