"""QuietHeaders answers exactly as werkzeug's Headers do, only without an exception per miss."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import Headers

from edge.request_headers import QuietHeaders, make_quiet

ITEMS = [("Host", "edge"), ("X-Wopi-Override", "LOCK"), ("X-Wopi-Maxexpectedsize", "12"), ("Accept", "*/*")]


@pytest.mark.parametrize("name", ["X-WOPI-Override", "x-wopi-override", "Host", "X-WOPI-Proof", "", "Accept"])
def test_get_and_contains_answer_as_werkzeug_does(name: str) -> None:
    plain, quiet = Headers(ITEMS), make_quiet(Headers(ITEMS))
    assert isinstance(quiet, QuietHeaders)
    assert quiet.get(name) == plain.get(name)
    assert quiet.get(name, "default") == plain.get(name, "default")
    assert (name in quiet) == (name in plain)


def test_a_conversion_is_applied_and_a_refused_one_is_the_default() -> None:
    quiet = make_quiet(Headers(ITEMS))
    assert quiet.get("X-WOPI-MaxExpectedSize", type=int) == 12
    assert quiet.get("X-WOPI-Override", -1, type=int) == -1
    assert quiet.get("X-WOPI-Missing", -1, type=int) == -1


def test_a_missing_name_is_still_a_400_when_subscripted() -> None:
    """Only get() and `in` change: request.headers["X"] still raises werkzeug's 400 error."""
    from werkzeug.exceptions import BadRequestKeyError

    with pytest.raises(BadRequestKeyError):
        make_quiet(Headers(ITEMS))["X-WOPI-Proof"]
