"""Editors (WOPI clients) as this host sees them: their discovery documents (discovery.py,
fetched by fetch.py) and the proof keys they sign requests with (proof.py)."""

from control.editors.discovery import (
    Action,
    Discovery,
    DiscoveryError,
    ProofKey,
    action_url,
    choose_action,
    extensions,
    parse_discovery,
)
from control.editors.fetch import fetch_discovery
from control.editors.proof import ProofResult, dotnet_ticks, from_ticks, verify_proof

__all__ = [
    "Action",
    "Discovery",
    "DiscoveryError",
    "ProofKey",
    "ProofResult",
    "action_url",
    "choose_action",
    "dotnet_ticks",
    "extensions",
    "fetch_discovery",
    "from_ticks",
    "parse_discovery",
    "verify_proof",
]
