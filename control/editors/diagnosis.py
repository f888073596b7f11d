"""What can go wrong between this host and one editor, as findings (`wopi-proxy doctor editor`).

Pure functions over what the control plane saw: the discovery document it fetched just now (or
why it could not), the HTTP Date header of that reply, the public URL it puts in WOPISrc, the
editor's proof policy and the stored copy of its discovery. Each returns Findings with a
severity (ok, warn, fail), what was seen and the concrete fix. No I/O, no clock of its own.

The support cases they cover (WOPI-NOTES "what users hit"): the editor cannot reach WOPISrc
(loopback or private public URL, Collabora's host allow-list), mixed content (https host page
framing an http editor), clock skew (proof timestamps older than 20 minutes, or 5 minutes in
the future, are refused), proof keys missing, never rotated, ONLYOFFICE's stock key, or
rotated while this host still holds the old document.

Every value from the discovery document or the reply is the editor's (possibly a tenant's,
possibly hostile): it is shown through `_show`, printable and bounded.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from control.editors.discovery import Discovery, ProofKey, choose_action
from control.editors.proof import MAX_AGE, MAX_SKEW

__all__ = [
    "COMMON_EXTENSIONS",
    "SKEW_FAIL",
    "SKEW_WARN",
    "Finding",
    "Severity",
    "address_class",
    "check_actions",
    "check_clock",
    "check_discovery_fetch",
    "check_editor_allow_list",
    "check_product",
    "check_proof_failures",
    "check_proof_keys",
    "check_public_url_reachable",
    "check_scheme",
    "check_stored_copy",
    "diagnose",
    "editor_hosts",
    "key_fingerprint",
    "worst",
]

Severity = Literal["ok", "warn", "fail"]
_RANK: dict[Severity, int] = {"ok": 0, "warn": 1, "fail": 2}

COMMON_EXTENSIONS = ("docx", "xlsx", "pptx", "odt", "txt")
# A minute of drift is ordinary without NTP; past 5 minutes proofs dated by the editor are "in
# the future" to this host (proof.MAX_SKEW), and the margin to the 20-minute limit shrinks.
SKEW_WARN = dt.timedelta(seconds=60)
SKEW_FAIL = MAX_SKEW
# The Date header has whole seconds, and the request takes a while: below this, no finding.
_DATE_RESOLUTION = dt.timedelta(seconds=1)
# A stored copy older than this: the 12-hourly refresh has failed at least once.
STALE_COPY = dt.timedelta(hours=25)

# SHA-256 (first 16 hex digits) of the modulus of the proof key that ONLYOFFICE Docs ships in
# its default configuration, identical on every installation that never set its own
# (OO-DOCS proof-keys; tests/fixtures/discovery/onlyoffice.xml carries it).
ONLYOFFICE_STOCK_KEYS = frozenset({"18a615879b59739b"})


@dataclass(frozen=True)
class Finding:
    check: str  # stable id, e.g. "clock-skew"
    severity: Severity
    summary: str  # one line
    detail: str = ""  # what was seen
    fix: str = ""  # what to do; empty when nothing is to be done

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "severity": self.severity, "summary": self.summary, "detail": self.detail,
                "fix": self.fix}


def worst(findings: Iterable[Finding]) -> Severity:
    return max((f.severity for f in findings), key=_RANK.__getitem__, default="ok")


def _show(text: object, limit: int = 200) -> str:
    """An editor-supplied value, safe to print: printable characters only, bounded."""
    cleaned = "".join(c if c.isprintable() else "?" for c in str(text))
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "…"


# -- the fetch --------------------------------------------------------------------------------------


def check_discovery_fetch(url: str, error: str | None) -> Finding:
    """Whether the control plane could fetch and parse the discovery document just now."""
    if error is None:
        return Finding("discovery-fetch", "ok", f"discovery fetched and parsed from {_show(url)}")
    lowered = error.lower()
    if "timed out" in lowered or "connecterror" in lowered or "failed:" in lowered:
        fix = (f"make {_show(url)} reachable from the control plane's network (DNS, firewall, proxy); "
               "test with `curl -v` from the control plane's machine")
    elif "html" in lowered or "not xml" in lowered:
        fix = ("the URL serves something else (a login page or proxy error?): use the editor's "
               "/hosting/discovery URL, and exempt it from any authentication in front of the editor")
    elif "http status" in lowered:
        fix = ("check the URL (Collabora and ONLYOFFICE serve /hosting/discovery; ONLYOFFICE needs "
               "wopi.enable=true, WOPI_ENABLED=true in Docker)")
    else:
        fix = "check the URL and the editor's logs; `wopi-proxy editors refresh NAME` retries"
    return Finding("discovery-fetch", "fail", "the discovery document could not be fetched or parsed",
                   detail=_show(error, 500), fix=fix)


# -- what the document offers -------------------------------------------------------------------------


def check_actions(discovery: Discovery, extensions: Sequence[str] = COMMON_EXTENSIONS) -> Finding:
    """View and edit actions for the common formats (an action this host cannot serve, e.g.
    one requiring "cobalt", does not count)."""
    viewable: list[str] = []
    editable: list[str] = []
    missing_edit: list[str] = []
    missing: list[str] = []
    for ext in extensions:
        view = choose_action(discovery, ext, want_edit=False)
        edit = choose_action(discovery, ext, want_edit=True)
        edits = edit is not None and edit.name.lower() == "edit"
        if view is None and not edits:
            missing.append(ext)
            continue
        viewable.append(ext)
        (editable if edits else missing_edit).append(ext)
    detail = f"view: {', '.join(viewable) or 'none'}; edit: {', '.join(editable) or 'none'}"
    if not viewable:
        return Finding("actions", "fail", f"no usable action for any of {', '.join(extensions)}", detail=detail,
                       fix="check that this is the editor's discovery URL and the editor's document types are "
                           "enabled; `wopi-proxy editors list` shows the extensions it offers")
    if missing or missing_edit:
        parts = ([f"cannot open {', '.join(missing)}"] if missing else []) + (
            [f"view only for {', '.join(missing_edit)}"] if missing_edit else [])
        return Finding("actions", "warn", "; ".join(parts), detail=detail,
                       fix="sessions for these formats get no editor (or a read-only one); add another editor "
                           "that handles them, or enable them in the editor")
    return Finding("actions", "ok", f"view and edit for {', '.join(extensions)}", detail=detail)


def check_product(discovery: Discovery) -> Finding:
    if discovery.product == "other":
        return Finding("product", "warn", "the product is not recognised (not Collabora, ONLYOFFICE or Microsoft)",
                       detail="product-specific compatibility (lock strictness, Collabora's timestamp headers) "
                              "falls back to the WOPI specification",
                       fix="nothing to do if the editor follows the WOPI specification")
    return Finding("product", "ok", f"product: {discovery.product}")


def key_fingerprint(key: ProofKey) -> str:
    """A short name of a key: SHA-256 of its big-endian modulus, 16 hex digits."""
    modulus = key.modulus.to_bytes((key.modulus.bit_length() + 7) // 8, "big")
    return hashlib.sha256(modulus).hexdigest()[:16]


def check_proof_keys(discovery: Discovery, policy: str) -> list[Finding]:
    """Keys present (for the policy), rotation, and ONLYOFFICE's stock key."""
    current, old = discovery.proof_key, discovery.old_proof_key
    if current is None:
        fix = _missing_key_fix(discovery.product)
        if policy == "required":
            return [Finding("proof-keys", "fail", "no proof key in discovery, but the proof policy is 'required'",
                            detail="every WOPI request of this editor is refused (500) until it advertises a key",
                            fix=fix + "; or re-add the editor with `--proof if-advertised`")]
        if policy == "off":
            return [Finding("proof-keys", "ok", "no proof key in discovery; proof checks are off for this editor")]
        return [Finding("proof-keys", "warn", "no proof key in discovery: WOPI requests are accepted unsigned",
                        detail="anyone holding an access token can call WOPISrc as this editor", fix=fix)]
    findings: list[Finding] = []
    fingerprint = key_fingerprint(current)
    if policy == "off":
        findings.append(Finding("proof-keys", "warn", "the editor signs its requests but proof checks are off",
                                detail=f"current key {fingerprint}",
                                fix="re-add the editor with `--proof if-advertised` (or `required`)"))
    else:
        findings.append(Finding("proof-keys", "ok", f"proof key present ({fingerprint}), policy '{policy}'"))
    if old is None:
        findings.append(Finding("proof-key-rotation", "ok", "no old proof key advertised",
                                detail="after the editor rotates its key, this host fetches discovery again on "
                                       "the first failing proof"))
    elif key_fingerprint(old) == fingerprint:
        findings.append(Finding("proof-key-rotation", "ok", "the old proof key equals the current one (never rotated)",
                                detail=f"current and old key {fingerprint}"))
    else:
        findings.append(Finding("proof-key-rotation", "ok", "proof keys rotated; the old key is still advertised",
                                detail=f"current {fingerprint}, old {key_fingerprint(old)}"))
    stock = [k for k in (current, old) if k is not None and key_fingerprint(k) in ONLYOFFICE_STOCK_KEYS]
    if stock:
        findings.append(Finding(
            "proof-key-stock", "warn", "the editor signs with ONLYOFFICE's stock proof key",
            detail="the key ships in ONLYOFFICE's default configuration and is the same on every such "
                   "installation: its signatures prove nothing",
            fix="generate a key pair for this installation and set wopi.privateKey, wopi.publicKey, wopi.modulus "
                "and wopi.exponent (and the *Old values) in ONLYOFFICE's local.json, then `wopi-proxy editors "
                "refresh NAME`"))
    return findings


def _missing_key_fix(product: str) -> str:
    if product == "collabora":
        return ("give Collabora a proof key: `ssh-keygen -t rsa -N \"\" -m PEM -f /etc/coolwsd/proof_key` "
                "(owned by the cool user; packages usually create it at install), restart coolwsd")
    if product == "onlyoffice":
        return "set wopi.privateKey/publicKey/modulus/exponent in ONLYOFFICE's local.json"
    return "configure the editor's proof key"


def check_stored_copy(stored: Discovery | None, fresh: Discovery, *, fetch_time: dt.datetime | None,
                      fetch_error: str, now: dt.datetime) -> Finding:
    """The copy sessions use: present, recent, and with the keys the editor has now."""
    if stored is None:
        return Finding("stored-discovery", "fail", "no usable stored discovery document: sessions get no editor",
                       detail=_show(fetch_error, 500), fix="`wopi-proxy editors refresh NAME`")
    stored_key = stored.proof_key and key_fingerprint(stored.proof_key)
    fresh_key = fresh.proof_key and key_fingerprint(fresh.proof_key)
    if stored_key != fresh_key:
        return Finding("stored-discovery", "warn", "the stored discovery has other proof keys than the editor now",
                       detail=f"stored key {stored_key or 'none'}, the editor's {fresh_key or 'none'}: "
                              "proofs fail (and trigger a refresh) until the copy is replaced",
                       fix="`wopi-proxy editors refresh NAME`")
    age = now - fetch_time if fetch_time else None
    if fetch_error or (age is not None and age > STALE_COPY):
        return Finding("stored-discovery", "warn", "the periodic refresh of the stored discovery fails",
                       detail=f"last fetched {_age(age)} ago; last error: {_show(fetch_error or 'none', 300)}",
                       fix="see discovery-fetch; `wopi-proxy editors refresh NAME` once it works")
    return Finding("stored-discovery", "ok", f"stored discovery matches, fetched {_age(age)} ago")


def _age(age: dt.timedelta | None) -> str:
    if age is None:
        return "an unknown time"
    seconds = max(0, int(age.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def check_proof_failures(failures: Mapping[str, int], *, hours: int) -> Finding:
    """The proof checks that failed lately on this editor's sessions, by reason (the audit's
    "PROOF_INVALID: <reason>"), read as what usually causes each."""
    if not failures:
        return Finding("proof-failures", "ok", f"no failed proof check on this editor's sessions in {hours} h")
    total = sum(failures.values())
    detail = "; ".join(f"{n} × {_show(reason, 120)}" for reason, n in sorted(failures.items(), key=lambda i: -i[1]))
    fixes = []
    if any("too old" in r or "future" in r for r in failures):
        fixes.append("timestamps: sync the clocks (NTP) of the editor and the edges")
    if any("signature" in r for r in failures):
        fixes.append("signatures: the URL the editor called is not the one the edge rebuilt; behind a reverse proxy "
                     "start with --public-url set to the URL the editor calls (scheme, host, port, path prefix) or "
                     "with --trust-forwarded-headers; if the editor changed keys, `wopi-proxy editors refresh NAME`")
    if any("missing" in r or "no proof key" in r for r in failures):
        fixes.append("missing proofs: the editor does not sign; give it a proof key or re-add it with "
                     "`--proof if-advertised`")
    return Finding("proof-failures", "warn", f"{total} WOPI request(s) of this editor failed the proof check in "
                   f"{hours} h (answered 500)", detail=detail,
                   fix="; ".join(fixes) or "see the audit: `wopi-proxy audit list --outcome denied`")


# -- clocks -------------------------------------------------------------------------------------------


def check_clock(date_header: str | None, *, sent: dt.datetime, received: dt.datetime, who: str) -> Finding:
    """The editor's clock (its reply's Date header) against ours, between sending and receiving.
    Proof timestamps are the editor's clock: more than 5 minutes ahead they are refused as
    "in the future"; behind, the 20-minute window shrinks. access_token_ttl is an absolute time
    the editor compares with its own clock too."""
    fix = f"sync the clocks (NTP: chrony or systemd-timesyncd) of the editor {_show(who)} and the control plane/edges"
    if not date_header:
        return Finding("clock-skew", "warn", "the editor's reply has no Date header; its clock cannot be checked",
                       fix="make sure the editor's machine runs NTP")
    try:
        editor_time = email.utils.parsedate_to_datetime(date_header)
    except (TypeError, ValueError, IndexError, OverflowError):
        editor_time = None
    if editor_time is None or editor_time.tzinfo is None:
        return Finding("clock-skew", "warn", "the editor's Date header cannot be read",
                       detail=f"Date: {_show(date_header, 80)}", fix="make sure the editor's machine runs NTP")
    if editor_time < sent - _DATE_RESOLUTION:
        skew = editor_time - sent
    elif editor_time > received + _DATE_RESOLUTION:
        skew = editor_time - received
    else:
        return Finding("clock-skew", "ok", "the editor's clock agrees with ours (within a second)")
    direction = "ahead of" if skew > dt.timedelta(0) else "behind"
    amount = abs(skew)
    text = f"the editor's clock is {int(amount.total_seconds())} s {direction} the control plane's"
    if skew > SKEW_FAIL:
        return Finding("clock-skew", "fail", text,
                       detail=f"proof timestamps more than {int(MAX_SKEW.total_seconds() // 60)} min in the "
                              "future are refused: every signed WOPI request fails with 500", fix=fix)
    if -skew > MAX_AGE:
        return Finding("clock-skew", "fail", text,
                       detail=f"proof timestamps older than {int(MAX_AGE.total_seconds() // 60)} min are refused: "
                              "every signed WOPI request fails with 500", fix=fix)
    if amount > SKEW_FAIL:
        return Finding("clock-skew", "fail", text,
                       detail="proofs still pass, but a slow request or a little more drift makes them "
                              f"older than {int(MAX_AGE.total_seconds() // 60)} min", fix=fix)
    if amount > SKEW_WARN:
        return Finding("clock-skew", "warn", text, detail="within what proof checks tolerate, but drifting", fix=fix)
    return Finding("clock-skew", "ok", text)


# -- addresses ------------------------------------------------------------------------------------------

AddressClass = Literal["loopback", "private", "public"]
_ORDER: dict[AddressClass, int] = {"loopback": 0, "private": 1, "public": 2}
# Names that never resolve on the public internet (RFC 6761, RFC 8375, common internal suffixes).
_INTERNAL_SUFFIXES = (".local", ".localdomain", ".internal", ".intranet", ".lan", ".home.arpa", ".corp",
                      ".home", ".private", ".test", ".invalid", ".example")


def address_class(host: str) -> AddressClass:
    """Where a host name or address can be reached from: only the machine itself (loopback), a
    private network (RFC 1918, link-local, ULA, CGNAT, single-label and internal names), or anywhere."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if not host:
        return "loopback"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            return "loopback"
        if "." not in host or host.endswith(_INTERNAL_SUFFIXES):
            return "private"
        return "public"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback or address.is_unspecified:
        return "loopback"
    if address.is_private or address.is_link_local or address in ipaddress.ip_network("100.64.0.0/10"):
        return "private"
    return "public"


def editor_hosts(discovery_url: str, discovery: Discovery | None) -> list[str]:
    """The editor's host names: the discovery URL's and its action URLs' (how it names itself)."""
    hosts: list[str] = []
    urls = [discovery_url, *(a.urlsrc for a in discovery.actions)] if discovery else [discovery_url]
    for url in urls:
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            continue
        if host and host not in hosts:
            hosts.append(host)
    return hosts


def _widest(hosts: Sequence[str]) -> tuple[AddressClass, str]:
    if not hosts:
        return "loopback", ""
    host = max(hosts, key=lambda h: _ORDER[address_class(h)])
    return address_class(host), host


def check_public_url_reachable(public_url: str, hosts: Sequence[str]) -> Finding:
    """WOPISrc must be reachable from where the editor runs. An editor that names itself by a
    public (or private) address runs elsewhere: this host's loopback is not its loopback, and
    a public editor (Microsoft 365, a hosted Collabora) cannot reach private addresses."""
    try:
        our_host = urlsplit(public_url).hostname or ""
    except ValueError:
        our_host = ""
    if not our_host:
        return Finding("public-url", "fail", f"the public URL {_show(public_url)} has no host",
                       fix="start the control plane with --public-url https://<name the editor can reach>")
    ours = address_class(our_host)
    theirs, their_host = _widest(hosts)
    fix = (f"start the control plane with --public-url https://<name the editor can reach> (now {_show(public_url)}); "
           "the edge must answer there")
    if _ORDER[ours] < _ORDER[theirs]:
        where = {"loopback": "this machine only", "private": "a private network only"}[ours]
        return Finding("public-url", "fail",
                       f"WOPISrc {_show(public_url)} is reachable from {where}, the editor is at {_show(their_host)}",
                       detail=f"{_show(our_host)} is a {ours} address; the editor names itself {_show(their_host)} "
                              f"({theirs}), so it runs elsewhere and cannot call WOPISrc", fix=fix)
    detail = f"public URL host {_show(our_host)} ({ours}); editor {_show(their_host)} ({theirs})"
    if ours == "loopback":
        detail += ("; both loopback: works only when the editor runs on this machine outside a container "
                   "(a container's 127.0.0.1 is the container itself)")
    return Finding("public-url", "ok", f"WOPISrc {_show(public_url)} can be reachable from the editor", detail=detail)


def check_scheme(public_url: str, discovery: Discovery) -> Finding:
    """The host page (on the public URL) frames the editor's action URL and posts the token to it:
    an https page cannot frame an http editor (mixed content, the browser blocks it). The other
    way round works in a browser but sends tokens in clear, and Microsoft 365 wants https WOPISrc."""
    ours = (urlsplit(public_url).scheme or "").lower()
    schemes = sorted({(urlsplit(a.urlsrc).scheme or "").lower() for a in discovery.actions} - {""})
    theirs = "https" if schemes == ["https"] else ("http" if "http" in schemes else "")
    detail = f"host page and WOPISrc: {ours}; editor pages: {', '.join(schemes) or 'unknown'}"
    if ours == "https" and "http" in schemes:
        return Finding("mixed-content", "fail", "an https host page cannot frame the editor's http pages",
                       detail=detail + "; browsers block http frames in https pages (mixed content)",
                       fix="serve the editor over https (Collabora: ssl.enable, or ssl.termination=true behind a "
                           "TLS proxy; ONLYOFFICE: behind a TLS proxy with its public https URL) and refresh it")
    if ours == "http" and theirs == "https":
        severity: Severity = "fail" if discovery.product == "microsoft" else "warn"
        return Finding("mixed-content", severity, "the editor uses https, the host page and WOPISrc plain http",
                       detail=detail + "; access tokens and files travel unencrypted"
                              + (", and Microsoft 365 calls only https WOPI hosts" if severity == "fail" else "")
                              + "; an https application cannot embed the http host page",
                       fix="put TLS in front of the edge and start the control plane with "
                           "--public-url https://<its name>")
    return Finding("mixed-content", "ok", f"host page and editor both use {ours or 'an unknown scheme'}",
                   detail=detail)


def check_editor_allow_list(product: str, public_url: str) -> Finding | None:
    """Editors call only the WOPI hosts they were told to trust; nothing here can see their
    configuration, so this is advice (ok), with the snippet to use."""
    try:
        parts = urlsplit(public_url)
        origin = f"{parts.scheme}://{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    except ValueError:
        return None
    if product == "collabora":
        return Finding("host-allow-list", "ok", "Collabora calls only the WOPI hosts of its allow-list",
                       detail="symptom when missing: \"No acceptable WOPI hosts found\" / \"Unauthorized WOPI host\" "
                              "in coolwsd's log, and the document does not open",
                       fix=f"in Collabora's coolwsd.xml add the host to the storage.wopi.host allow-list "
                           f"(alias_groups, mode=\"groups\" when it serves several hosts; Docker: "
                           f"aliasgroup1={_show(origin)})")
    if product == "onlyoffice":
        return Finding("host-allow-list", "ok", "ONLYOFFICE calls only hosts its IP filter allows",
                       fix=f"allow {_show(parts.hostname)} in ONLYOFFICE's ipfilter rules (local.json) if it "
                           "restricts outgoing requests")
    return None


# -- everything -------------------------------------------------------------------------------------------


def diagnose(*, discovery_url: str, policy: str, public_url: str, fresh: Discovery | None, fetch_error: str | None,
             date_header: str | None, sent: dt.datetime, received: dt.datetime, stored: Discovery | None,
             stored_fetch_time: dt.datetime | None, stored_fetch_error: str,
             proof_failures: Mapping[str, int] | None = None, failure_hours: int = 24) -> list[Finding]:
    """Every finding for one editor, in the order a person reads them. Without a fresh document
    the checks fall back to the stored one where that still tells something."""
    findings = [check_discovery_fetch(discovery_url, fetch_error)]
    document = fresh or stored
    hosts = editor_hosts(discovery_url, document)
    if fresh is not None:
        findings.append(check_clock(date_header, sent=sent, received=received,
                                    who=_widest(hosts)[1] or discovery_url))
    findings.append(check_public_url_reachable(public_url, hosts))
    if document is not None:
        findings.append(check_scheme(public_url, document))
        findings.append(check_product(document))
        findings.append(check_actions(document))
        findings.extend(check_proof_keys(document, policy))
    if proof_failures is not None:
        findings.append(check_proof_failures(proof_failures, hours=failure_hours))
    if document is not None:
        advice = check_editor_allow_list(document.product, public_url)
        if advice is not None:
            findings.append(advice)
    if fresh is not None:
        findings.append(check_stored_copy(stored, fresh, fetch_time=stored_fetch_time,
                                          fetch_error=stored_fetch_error, now=received))
    return findings
