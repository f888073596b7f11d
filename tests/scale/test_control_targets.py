"""`--control`: one address or several replicas, refused clearly when malformed."""

from __future__ import annotations

import pytest

from shared.grpc_targets import control_target


@pytest.mark.parametrize(("given", "target"), [
    ("control:50051", "control:50051"),
    ("127.0.0.1:1,127.0.0.2:2", "ipv4:127.0.0.1:1,127.0.0.2:2"),
    (" 10.0.0.1:1 , 10.0.0.2:2 ", "ipv4:10.0.0.1:1,10.0.0.2:2"),
    ("[::1]:1,[fd00::2]:2", "ipv6:[::1]:1,[fd00::2]:2"),
])
def test_addresses_become_a_grpc_target(given: str, target: str) -> None:
    assert control_target(given) == target


@pytest.mark.parametrize("given", [
    "", "a:1,b:2", "127.0.0.1:1,", "127.0.0.1,127.0.0.2:2", "127.0.0.1:0,127.0.0.2:2",
    "127.0.0.1:1,[::1]:2", "127.0.0.1:99999,127.0.0.2:2", ",".join(["127.0.0.1:1"] * 65),
])
def test_a_malformed_list_is_refused(given: str) -> None:
    with pytest.raises(ValueError):
        control_target(given)
