"""The edge's limiter on its own, with an injected clock: refill, memory bounds, address grouping."""

from __future__ import annotations

from edge.wopi.flood import InvalidTokenLimiter, address_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_past_its_burst_waits_for_the_refill() -> None:
    """Attack: keep guessing tokens at full speed; only the sustained rate gets through."""
    clock = Clock()
    limiter = InvalidTokenLimiter(per_minute=6, burst=2, clock=clock)
    for _ in range(2):
        assert limiter.retry_after("192.0.2.1", "bad") is None
        limiter.refused("192.0.2.1", "bad", checked_by_control=True)
    assert limiter.retry_after("192.0.2.1", "bad") == 10  # 6 per minute: one every 10 s
    clock.now += 10
    assert limiter.retry_after("192.0.2.1", "bad") is None


def test_the_address_table_is_bounded() -> None:
    """Attack: exhaust the edge's memory by flooding from ever new addresses."""
    limiter = InvalidTokenLimiter(per_minute=1, burst=1, max_addresses=100)
    for i in range(10_000):
        limiter.refused(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", "", checked_by_control=False)
    assert len(limiter._buckets) == 100
    assert len(limiter.take_counts()) == 101  # 100 addresses and the overflow bucket


def test_ipv6_addresses_of_one_prefix_share_a_limit() -> None:
    """Attack: rotate through the 2^64 addresses of one's own IPv6 prefix for fresh allowances."""
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
