"""WS-Security UsernameToken (PasswordDigest) for ONVIF requests, from a prepared skeleton.

zeep's ``UsernameToken.apply`` builds the Security header element by element on every
call (about 30 µs; a dozen signed calls per camera). The header is the same each time
but for three texts: the digest, the nonce and the Created time. So zeep itself builds
the header once per request template, with a throwaway token that carries no password,
and each call fills a copy of that skeleton with values computed exactly as zeep and
onvif-zeep-async compute them (``UsernameToken._create_password_digest`` and
``UsernameDigestTokenDtDiff.apply``: Created on the camera's clock, a fresh 16-byte
nonce, Base64(SHA-1(nonce + Created + password))). The bytes sent are identical to
zeep's (tests/probes/test_onvif_cpu_paths.py compares them).

Only the token onvif_soap creates (``UsernameDigestTokenDtDiff`` with a password and
digest on) is handled here; :func:`can_sign` says so, and anything else keeps zeep's
``apply``.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import os
from typing import Any

from lxml import etree
from onvif.client import UsernameDigestTokenDtDiff
from zeep import ns
from zeep.wsse import utils as wsse_utils

# Any fixed instant: the skeleton's texts are overwritten on every use.
_SKELETON_CREATED = dt.datetime(2000, 1, 1)


def can_sign(token: Any) -> bool:
    """True for the PasswordDigest token this module reproduces byte for byte."""
    return (
        type(token) is UsernameDigestTokenDtDiff
        and bool(token.use_digest)
        and token.password is not None
        and token.password_digest is None
        and token.timestamp_token is None
    )


def _path(root: etree._Element, el: etree._Element) -> tuple[int, ...]:
    """Child indexes from ``root`` down to ``el`` (the same in any deep copy of root)."""
    steps: list[int] = []
    while el is not root:
        parent = el.getparent()
        assert parent is not None  # el lies under root: zeep just put it there
        steps.append(parent.index(el))
        el = parent
    return tuple(reversed(steps))


class DigestSigner:
    """Signs copies of one request envelope for one username."""

    def __init__(self, template: etree._Element, token: UsernameDigestTokenDtDiff) -> None:
        skeleton = copy.deepcopy(template)
        # zeep lays the header out (elements, attributes, namespace declarations); the
        # throwaway token knows the username only: no password is kept in the skeleton.
        dummy = UsernameDigestTokenDtDiff(
            token.username,
            "",
            use_digest=True,
            nonce="-",
            created=_SKELETON_CREATED,
            zulu_timestamp=token.zulu_timestamp,
        )
        skeleton, _ = dummy.apply(skeleton, {})
        security = wsse_utils.get_security_header(skeleton)
        username_token = security.find(f"{{{ns.WSSE}}}UsernameToken")
        assert username_token is not None  # dummy.apply just created it
        # zeep appends Username, Password, Nonce, Created to the UsernameToken
        password, nonce, created = list(username_token)[-3:]
        self.paths = tuple(_path(skeleton, el) for el in (password, nonce, created))
        self.skeleton = skeleton

    def sign(self, token: UsernameDigestTokenDtDiff) -> etree._Element:
        """Return a copy of the envelope with ``token``'s digest, nonce and Created."""
        # UsernameDigestTokenDtDiff.apply: Created is now (or the token's own), plus
        # the camera's clock offset
        created = token.created
        if created is None:
            created = dt.datetime.now(tz=dt.UTC).replace(tzinfo=None)
        if token.dt_diff is not None:
            created += token.dt_diff
        # UsernameToken._create_password_digest
        nonce = token.nonce.encode("utf-8") if token.nonce else os.urandom(16)
        timestamp = wsse_utils.get_timestamp(created, token.zulu_timestamp)
        password = token.password
        if isinstance(password, str):
            password = password.encode("utf-8")
        if token.hash_password:
            password = hashlib.sha1(password).digest()
        digest = base64.b64encode(
            hashlib.sha1(nonce + timestamp.encode("utf-8") + password).digest()
        ).decode("ascii")
        texts = (digest, base64.b64encode(nonce).decode("utf-8"), timestamp)
        envelope = copy.deepcopy(self.skeleton)
        for path, text in zip(self.paths, texts, strict=True):
            node = envelope
            for index in path:
                node = node[index]
            node.text = text
        return envelope
