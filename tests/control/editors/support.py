"""Shared by the editor tests: the fixture documents, and the WOPI validator's own signer."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from control.editors.discovery import Discovery, parse_discovery

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "discovery"
VALIDATOR = Path(__file__).resolve().parents[4] / "shared" / "wopi-validator" / "validator.py"
PROOF_KEYS = VALIDATOR.parent / "proofkeys.json"

DOCUMENTS = ("collabora", "onlyoffice", "microsoft365", "validator")


def document(name: str) -> bytes:
    return (FIXTURES / f"{name}.xml").read_bytes()


@cache
def parsed(name: str) -> Discovery:
    return parse_discovery(document(name))


def validator_module() -> ModuleType:
    """The validator's runner, imported as a module, to sign requests exactly as it does."""
    if not VALIDATOR.exists():
        pytest.skip(f"the WOPI validator is not at {VALIDATOR}")
    if "wopi_validator_runner" not in sys.modules:
        spec = importlib.util.spec_from_file_location("wopi_validator_runner", VALIDATOR)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["wopi_validator_runner"]
