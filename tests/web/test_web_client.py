"""web.client.upload_scan maps transport and HTTP failures to camaudit's errors."""

from __future__ import annotations

import httpx
import pytest

from auditor.errors import CamauditError, StorageError
from web.client import upload_scan


def _transport(status: int, body: object) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/ingest"
        assert request.headers["authorization"] == "Bearer T"
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handler)


def test_success_returns_the_answer() -> None:
    out = upload_scan(
        "http://127.0.0.1:1/", "T", {"scan": {}}, transport=_transport(201, {"scan_id": 3})
    )
    assert out == {"scan_id": 3}


@pytest.mark.parametrize(
    ("status", "exc", "words"),
    [
        (401, CamauditError, "refused the probe token"),
        (413, CamauditError, "too large"),
        (422, CamauditError, "malformed"),
        (503, StorageError, "answered 503"),
    ],
)
def test_http_errors(status: int, exc: type[Exception], words: str) -> None:
    with pytest.raises(exc, match=words):
        upload_scan("http://127.0.0.1:1", "T", {}, transport=_transport(status, {"detail": "no"}))


def test_transport_errors_become_storage_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(StorageError, match="cannot reach") as info:
        upload_scan("http://127.0.0.1:1", "T", {}, transport=httpx.MockTransport(refuse))
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    with pytest.raises(StorageError, match="no answer within 2 s"):
        upload_scan("http://127.0.0.1:1", "T", {}, timeout=2, transport=httpx.MockTransport(slow))
