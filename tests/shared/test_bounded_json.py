"""Parsed JSON costs per value: an app's answer of many tiny values is refused before it is built."""

from __future__ import annotations

import json
import os

import pytest

from shared.bounded_json import TooManyValues, loads
from tests.support.memory import peak_growth_mib


def test_an_answer_within_the_cap_is_parsed_as_json_would() -> None:
    raw = json.dumps({"code": 0, "data": {"text": "a, [b] {c} \"d\" \\", "pool": {"1": ["author", "a.x"]}}}).encode()
    assert loads(raw, max_values=10) == json.loads(raw)


def test_an_answer_of_one_value_past_the_cap_is_refused() -> None:
    assert loads(b"[1,2,3]", max_values=4) == [1, 2, 3]
    with pytest.raises(TooManyValues):
        loads(b"[1,2,3,4,5]", max_values=4)


def test_empty_containers_count_as_values() -> None:
    with pytest.raises(TooManyValues):
        loads(b"[{},{},[]]", max_values=4)


def test_commas_and_brackets_inside_strings_do_not_count() -> None:
    text = "x, [y], {z}, \\\" ," * 100_000
    raw = json.dumps({"text": text}).encode()
    assert loads(raw, max_values=5) == {"text": text}


def test_an_escaped_quote_does_not_end_a_string() -> None:
    raw = json.dumps(["\",,,,,,,,,,"]).encode()
    assert loads(raw, max_values=2) == ["\",,,,,,,,,,"]


def test_the_refusal_is_a_value_error_as_json_errors_are() -> None:
    assert issubclass(TooManyValues, ValueError)


def test_a_refused_answer_costs_far_less_memory_than_parsing_it() -> None:
    """40 MiB of empty objects parsed held ~1.6 GiB."""
    raw = b"[" + b"{}," * (8 << 20) + b"{}]"
    grown = peak_growth_mib(os.getpid(), lambda: pytest.raises(TooManyValues, loads, raw))
    assert grown < 64, f"{grown:.0f} MiB to refuse {len(raw) >> 20} MiB of JSON"


def test_an_escaped_backslash_before_a_quote_ends_the_string() -> None:
    raw = json.dumps(["\\", ",,,,,,,,", "x\\\\\"", "\\\",,,,,,"]).encode()
    assert loads(raw, max_values=4) == json.loads(raw)


def test_commas_after_an_escaped_backslash_outside_the_string_count() -> None:
    raw = json.dumps(["\\"]).encode()[:-1] + b",1,2,3,4,5]"
    with pytest.raises(TooManyValues):
        loads(raw, max_values=4)


def test_more_strings_than_the_cap_allows_are_refused_without_splitting_them() -> None:
    with pytest.raises(TooManyValues):
        loads(b"[" + b'"",' * 100 + b'""]', max_values=10)
