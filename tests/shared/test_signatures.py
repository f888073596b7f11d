"""shared/signatures.py: the one signing scheme between wopi-proxy and the apps it bridges."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from shared import signatures
from shared.errors import BridgeSignatureInvalid

SECRET = b"s3cret"
BODY = b'{"event":"change","pad":"g.x$y","rev":3}'


def test_a_fresh_signature_verifies() -> None:
    signatures.verify(SECRET, BODY, signatures.sign(SECRET, BODY, now=1000), now=1000)


def test_a_changed_body_is_refused() -> None:
    header = signatures.sign(SECRET, BODY, now=1000)
    with pytest.raises(BridgeSignatureInvalid):
        signatures.verify(SECRET, BODY + b" ", header, now=1000)


def test_another_secret_is_refused() -> None:
    header = signatures.sign(b"other", BODY, now=1000)
    with pytest.raises(BridgeSignatureInvalid):
        signatures.verify(SECRET, BODY, header, now=1000)


def test_a_replay_after_the_window_is_refused() -> None:
    header = signatures.sign(SECRET, BODY, now=1000)
    with pytest.raises(BridgeSignatureInvalid):
        signatures.verify(SECRET, BODY, header, now=1000 + signatures.REPLAY_WINDOW_S + 1)


def test_a_signature_from_the_future_is_refused() -> None:
    header = signatures.sign(SECRET, BODY, now=2000)
    with pytest.raises(BridgeSignatureInvalid):
        signatures.verify(SECRET, BODY, header, now=2000 - signatures.REPLAY_WINDOW_S - 1)


@pytest.mark.parametrize("header", [None, "", "t=1000", "v1=" + "0" * 64, "t=x,v1=" + "0" * 64,
                                    "t=1000,v1=abc", "t=1000,t=1000,v1=" + "0" * 64, "x" * 500])
def test_a_malformed_header_is_refused(header: str | None) -> None:
    with pytest.raises(BridgeSignatureInvalid):
        signatures.verify(SECRET, BODY, header, now=1000)


def test_a_timestamp_moved_into_the_window_breaks_the_mac() -> None:
    """The timestamp is inside the MAC: an old request cannot be refreshed by editing `t`."""
    mac = signatures.sign(SECRET, BODY, now=1000).split("v1=")[1]
    with pytest.raises(BridgeSignatureInvalid):
        signatures.verify(SECRET, BODY, f"t=5000,v1={mac}", now=5000)


def test_hocuspocus_signature_verifies() -> None:
    header = "sha256=" + hmac.new(SECRET, BODY, hashlib.sha256).hexdigest()
    signatures.verify_hocuspocus(SECRET, BODY, header)


def test_a_wrong_hocuspocus_signature_is_refused() -> None:
    header = "sha256=" + hmac.new(b"other", BODY, hashlib.sha256).hexdigest()
    with pytest.raises(BridgeSignatureInvalid):
        signatures.verify_hocuspocus(SECRET, BODY, header)
