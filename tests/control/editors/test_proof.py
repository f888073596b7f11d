"""verify_proof: requests signed by the WOPI validator's own code with its proofkeys.json keys
(the keys its --print-discovery document publishes), and Microsoft's published test vectors."""

from __future__ import annotations

import base64
import datetime as dt
import struct
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from control.editors.discovery import ProofKey
from control.editors.proof import ProofResult, dotnet_ticks, from_ticks, proof_payload, verify_proof
from tests.control.editors import ms_proof_vectors as ms
from tests.control.editors.support import PROOF_KEYS, parsed, validator_module

NOW = dt.datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=dt.UTC)
TOKEN = "tok-ÄÖ-é/+=?&"  # non-ASCII and URL-special characters: signed as UTF-8
URL = "https://wopi.example.com:8443/wopi/files/f-1%20a?access_token=tok&access_token_ttl=0&permission=edit"


@pytest.fixture(scope="module")
def validator() -> Any:
    return validator_module()


@pytest.fixture(scope="module")
def keys(validator: Any) -> tuple[Any, Any]:
    """The validator's (current, old) RsaKey from proofkeys.json, loaded by the validator itself."""
    current, old = validator.load_proof_keys(str(PROOF_KEYS))
    return current, old


def sign(validator: Any, key: Any, *, token: str = TOKEN, url: str = URL, ticks: int | None = None) -> str:
    """X-WOPI-Proof as the validator computes it (its proof_payload, its RSA code)."""
    payload = validator.proof_payload(token, url, dotnet_ticks(NOW) if ticks is None else ticks)
    return base64.b64encode(key.sign_sha256(payload)).decode()


def check(*, proof: str | None, proof_old: str | None, timestamp: str | None = None, token: str = TOKEN,
          url: str = URL, current: ProofKey | None = None, old: ProofKey | None = None,
          use_discovery_keys: bool = True, now: dt.datetime = NOW) -> ProofResult:
    discovery = parsed("validator")
    if use_discovery_keys:
        current, old = discovery.proof_key, discovery.old_proof_key
    return verify_proof(access_token=token, url=url, proof=proof, proof_old=proof_old,
                        timestamp=str(dotnet_ticks(NOW)) if timestamp is None else timestamp,
                        current=current, old=old, now=now)


# -- accepted --------------------------------------------------------------------------------------------


def test_current_proof_verifies(validator: Any, keys: tuple[Any, Any]) -> None:
    current, old = keys
    assert check(proof=sign(validator, current), proof_old=sign(validator, old)) == ProofResult(True)


def test_old_proof_header_may_be_absent(validator: Any, keys: tuple[Any, Any]) -> None:
    for absent in (None, ""):
        assert check(proof=sign(validator, keys[0]), proof_old=absent) == ProofResult(True)


def test_proof_with_the_old_key_means_rotation(validator: Any, keys: tuple[Any, Any]) -> None:
    # The validator's "Behind" mutation: Proof signed with the old key, ProofOld garbage.
    result = check(proof=sign(validator, keys[1]), proof_old=validator.INVALID_PROOF)
    assert result == ProofResult(True, used_old_key=True)


def test_proof_old_with_the_current_key_means_rotation(validator: Any, keys: tuple[Any, Any]) -> None:
    # The validator's "Ahead" mutation: Proof garbage, ProofOld signed with the current key.
    result = check(proof=validator.INVALID_PROOF, proof_old=sign(validator, keys[0]))
    assert result == ProofResult(True, used_old_key=True)


def test_url_case_does_not_matter(validator: Any, keys: tuple[Any, Any]) -> None:
    # The URL is upper-cased before signing, so the host may see another case.
    proof = sign(validator, keys[0], url=URL)
    assert check(proof=proof, proof_old=None, url=URL.upper()).ok
    assert check(proof=proof, proof_old=None, url=URL.lower()).ok


@pytest.mark.parametrize("age", [dt.timedelta(minutes=19, seconds=59), dt.timedelta(0),
                                 -dt.timedelta(minutes=4, seconds=59)])
def test_timestamps_within_the_window(validator: Any, keys: tuple[Any, Any], age: dt.timedelta) -> None:
    ticks = dotnet_ticks(NOW - age)
    result = check(proof=sign(validator, keys[0], ticks=ticks), proof_old=None, timestamp=str(ticks))
    assert result.ok


# -- rejected ---------------------------------------------------------------------------------------------


def test_wrong_key(validator: Any) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    payload = proof_payload(access_token=TOKEN, url=URL, ticks=dotnet_ticks(NOW))
    forged = base64.b64encode(stranger.sign(payload, padding.PKCS1v15(), hashes.SHA256())).decode()
    assert check(proof=forged, proof_old=forged) == \
        ProofResult(False, reason="signature does not match the current or old key")


def test_both_proofs_invalid(validator: Any) -> None:
    # The validator's "Synced" mutation of both headers.
    result = check(proof=validator.INVALID_PROOF, proof_old=validator.INVALID_PROOF)
    assert result == ProofResult(False, reason="signature does not match the current or old key")


def test_proof_old_with_the_old_key_is_not_enough(validator: Any, keys: tuple[Any, Any]) -> None:
    # Not one of the three accepted combinations: a key two rotations old proves nothing.
    assert not check(proof=validator.INVALID_PROOF, proof_old=sign(validator, keys[1])).ok


def test_old_key_matches_only_if_discovery_has_one(validator: Any, keys: tuple[Any, Any]) -> None:
    current = parsed("validator").proof_key
    result = check(proof=sign(validator, keys[1]), proof_old=None, use_discovery_keys=False, current=current)
    assert not result.ok


@pytest.mark.parametrize("other_url", [
    URL.replace("f-1%20a", "f-2%20a"),
    URL.replace(":8443", ""),
    URL.replace("https://", "http://"),
    URL + "&extra=1",
    URL.split("?")[0],
])
def test_tampered_url(validator: Any, keys: tuple[Any, Any], other_url: str) -> None:
    proof, proof_old = sign(validator, keys[0]), sign(validator, keys[1])
    assert not check(proof=proof, proof_old=proof_old, url=other_url).ok


def test_different_token(validator: Any, keys: tuple[Any, Any]) -> None:
    proof, proof_old = sign(validator, keys[0]), sign(validator, keys[1])
    assert not check(proof=proof, proof_old=proof_old, token=TOKEN + "x").ok
    assert not check(proof=proof, proof_old=proof_old, token="").ok


def test_signed_timestamp_is_bound(validator: Any, keys: tuple[Any, Any]) -> None:
    # A recent X-WOPI-TimeStamp in place of the signed one does not verify.
    proof = sign(validator, keys[0], ticks=dotnet_ticks(NOW - dt.timedelta(minutes=30)))
    assert not check(proof=proof, proof_old=None).ok


@pytest.mark.parametrize(("moment", "reason"), [
    (NOW - dt.timedelta(minutes=20, seconds=1), "timestamp too old"),
    (NOW - dt.timedelta(days=400), "timestamp too old"),
    (dt.datetime(2015, 8, 17, tzinfo=dt.UTC), "timestamp too old"),  # the validator's mutation
    (NOW + dt.timedelta(minutes=5, seconds=1), "timestamp in the future"),
    (NOW + dt.timedelta(days=1), "timestamp in the future"),
])
def test_timestamps_outside_the_window(validator: Any, keys: tuple[Any, Any], moment: dt.datetime,
                                       reason: str) -> None:
    ticks = dotnet_ticks(moment)
    proof, proof_old = sign(validator, keys[0], ticks=ticks), sign(validator, keys[1], ticks=ticks)
    assert check(proof=proof, proof_old=proof_old, timestamp=str(ticks)) == ProofResult(False, reason=reason)


def test_unix_time_instead_of_ticks_is_too_old(validator: Any, keys: tuple[Any, Any]) -> None:
    # The classic mistake (petrsvihlik/WopiHost#296): Unix seconds read as ticks are year 1.
    unix = int(NOW.timestamp())
    result = check(proof=sign(validator, keys[0], ticks=unix), proof_old=None, timestamp=str(unix))
    assert result == ProofResult(False, reason="timestamp too old")


@pytest.mark.parametrize("timestamp", ["abc", "-5", "1.5e17", "6.3e17", "0x1F", "+638000000000000000",
                                       "99999999999999999999", "١٢٣"])
def test_malformed_timestamps(validator: Any, keys: tuple[Any, Any], timestamp: str) -> None:
    result = check(proof=sign(validator, keys[0]), proof_old=None, timestamp=timestamp)
    assert result == ProofResult(False, reason="timestamp malformed")


@pytest.mark.parametrize(("proof", "timestamp", "reason"), [
    (None, None, "missing X-WOPI-Proof"),
    ("", None, "missing X-WOPI-Proof"),
    ("  ", None, "missing X-WOPI-Proof"),
    ("sig", "", "missing X-WOPI-TimeStamp"),
])
def test_missing_headers(validator: Any, keys: tuple[Any, Any], proof: str | None, timestamp: str | None,
                         reason: str) -> None:
    real = sign(validator, keys[0])
    result = verify_proof(access_token=TOKEN, url=URL, proof=real if proof == "sig" else proof,
                          proof_old=sign(validator, keys[1]), timestamp=timestamp,
                          current=parsed("validator").proof_key, old=parsed("validator").old_proof_key,
                          now=NOW)
    assert result == ProofResult(False, reason=reason)


def test_no_keys_known(validator: Any, keys: tuple[Any, Any]) -> None:
    result = check(proof=sign(validator, keys[0]), proof_old=None, use_discovery_keys=False)
    assert not result.ok and "no proof key" in result.reason


@pytest.mark.parametrize("garbage", ["not base64 at all!", "QUJD", base64.b64encode(b"\0" * 256).decode()])
def test_undecodable_or_short_signatures_do_not_verify(garbage: str) -> None:
    assert not check(proof=garbage, proof_old=garbage).ok


# -- the signed bytes and the clock -------------------------------------------------------------------------


def test_payload_matches_the_validators_and_the_spec(validator: Any) -> None:
    ticks = dotnet_ticks(NOW)
    ours = proof_payload(access_token=TOKEN, url=URL, ticks=ticks)
    assert ours == validator.proof_payload(TOKEN, URL, ticks)
    token, url = TOKEN.encode(), URL.upper().encode()
    assert ours == (struct.pack(">i", len(token)) + token + struct.pack(">i", len(url)) + url
                    + b"\x00\x00\x00\x08" + ticks.to_bytes(8, "big"))


def test_ticks() -> None:
    assert dotnet_ticks(dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) == 621_355_968_000_000_000
    assert dotnet_ticks(dt.datetime(1, 1, 1, tzinfo=dt.UTC)) == 0
    assert from_ticks(621_355_968_000_000_000) == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert from_ticks(dotnet_ticks(NOW)) == NOW
    other_zone = NOW.astimezone(dt.timezone(dt.timedelta(hours=-5)))
    assert dotnet_ticks(other_zone) == dotnet_ticks(NOW)
    # A Microsoft vector's timestamp: the samples were recorded on 2015-04-25.
    assert from_ticks(ms.VECTORS[0].timestamp) == dt.datetime(2015, 4, 25, 20, 16, 1, 77353, tzinfo=dt.UTC)
    with pytest.raises(ValueError):
        dotnet_ticks(NOW.replace(tzinfo=None))
    with pytest.raises(ValueError):
        from_ticks(-1)


def test_ticks_match_the_validators(validator: Any) -> None:
    assert dotnet_ticks(NOW) == validator.dotnet_ticks(NOW.replace(tzinfo=None))


# -- Microsoft's test vectors -------------------------------------------------------------------------------

MS_KEYS = {
    "modulus/exponent": (ProofKey.from_modulus_exponent(ms.DISCOVERY_MODULUS, ms.DISCOVERY_EXPONENT),
                         ProofKey.from_modulus_exponent(ms.DISCOVERY_OLD_MODULUS, ms.DISCOVERY_OLD_EXPONENT)),
    "CSP blob": (ProofKey.from_csp_blob(ms.DISCOVERY_VALUE), ProofKey.from_csp_blob(ms.DISCOVERY_OLD_VALUE)),
}


@pytest.mark.parametrize("source", [*MS_KEYS, "microsoft365.xml"])
@pytest.mark.parametrize("vector", ms.VECTORS, ids=[v.name for v in ms.VECTORS])
def test_microsoft_vectors(vector: ms.Vector, source: str) -> None:
    if source == "microsoft365.xml":
        current, old = parsed("microsoft365").proof_key, parsed("microsoft365").old_proof_key
    else:
        current, old = MS_KEYS[source]
    result = verify_proof(access_token=vector.access_token, url=vector.url, proof=vector.proof,
                          proof_old=vector.proof_old, timestamp=str(vector.timestamp), current=current,
                          old=old,
                          now=from_ticks(vector.timestamp) + dt.timedelta(minutes=1))
    assert result.ok is vector.expected
    assert result.used_old_key is (vector.expected and not vector.name.startswith("proof_current"))


def test_microsoft_vectors_expire() -> None:
    vector = ms.VECTORS[0]
    current, old = MS_KEYS["CSP blob"]
    result = verify_proof(access_token=vector.access_token, url=vector.url, proof=vector.proof,
                          proof_old=vector.proof_old, timestamp=str(vector.timestamp), current=current,
                          old=old,
                          now=NOW)
    assert result == ProofResult(False, reason="timestamp too old")
