"""Coverage-guided fuzzing (atheris, libFuzzer) of the byte parsers; used by ``make fuzz``.

    python tests/fuzz/atheris_targets.py TARGET [libFuzzer options, e.g. -max_total_time=60]

Each target feeds raw bytes to one parser; the parser may return or raise its documented
error (``ParseError``), anything else is a crash libFuzzer reports with the input that
caused it (turn it into a regression test in tests/fuzz/). Not collected by pytest.
"""

from __future__ import annotations

import contextlib
import ssl
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

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


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEEDS = {"x509": "tls/*.pem", "wsdiscovery": "wsdiscovery/*", "rtsp": "rtsp/*.txt",
         "http": "http/*.txt", "vendor_port": "vendor_port/*", "sdp": "rtsp/*.json"}  # fmt: skip


def _corpus(name: str) -> str:
    """A temp corpus seeded from the recorded device replies (libFuzzer adds to it)."""
    corpus = Path(tempfile.mkdtemp(prefix=f"camaudit-atheris-{name}-"))
    for i, path in enumerate(sorted(FIXTURES.glob(SEEDS[name]))):
        raw = path.read_bytes()
        if path.suffix == ".pem":
            raw = ssl.PEM_cert_to_DER_cert(raw.decode("ascii"))
        (corpus / f"seed-{i}").write_bytes(raw)
    return str(corpus)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer options]")
    target = TARGETS[sys.argv[1]]
    corpus = _corpus(sys.argv[1])

    def one(data: bytes) -> None:
        with contextlib.suppress(ParseError):  # the documented refusal
            target(data)

    atheris.Setup([sys.argv[0], *sys.argv[2:], corpus], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
