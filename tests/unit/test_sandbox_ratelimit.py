"""The sandbox's server-side rate limiter: windows counted at arrival, strict or lenient."""

from __future__ import annotations

from mstock_sandbox import SandboxConfig
from mstock_sandbox.ratelimit import RateLimits


def test_the_lenient_data_second_forgives_a_little_jitter():
    limits = RateLimits(data_window=SandboxConfig().rate_limit_data_window)
    assert [limits.allow("k", "data", at=t) for t in (10.0, 10.96, 11.5)] == [True, True, False]


def test_strict_mode_counts_exactly_one_second():
    limits = RateLimits(data_window=SandboxConfig(strict_rate_limits=True).rate_limit_data_window)
    assert [limits.allow("k", "data", at=t) for t in (10.0, 10.999, 11.0, 11.5, 12.0)] == [True, False, True, False, True]


def test_windows_are_per_api_key_and_category():
    limits = RateLimits()
    assert limits.allow("a", "data", at=1.0) and limits.allow("b", "data", at=1.0) and limits.allow("a", "quote", at=1.0)
    assert not limits.allow("a", "data", at=1.5)
    assert limits.allow("a", None, at=1.5)  # uncategorised routes are not limited


def test_order_windows_per_second_and_per_minute():
    limits = RateLimits()
    assert sum(limits.allow("k", "order", at=0.001 * i) for i in range(40)) == 30
    second_by_second = [limits.allow("k", "order", at=1.0 + s + 0.001 * i) for s in range(9) for i in range(30)]
    assert sum(second_by_second) == 250 - 30  # then the minute's 250 are used up
    assert not limits.allow("k", "order", at=30.0)
    assert limits.allow("k", "order", at=60.5)


def test_a_request_counted_late_keeps_its_arrival_order():
    limits = RateLimits()
    for t in (5.0, 4.2):  # the second arrived first but was counted after
        assert limits.allow("k", "quote", at=t)
    assert sum(limits.allow("k", "quote", at=5.1) for _ in range(20)) == 18
    # 4.2 leaves the window before 5.0 does: one more request fits at 5.25 (window (4.25, 5.25])
    assert limits.allow("k", "quote", at=5.25)
    assert not limits.allow("k", "quote", at=5.26)


def test_the_clock_is_replaceable_and_reset_forgets():
    limits = RateLimits()
    limits.clock = lambda: 42.0
    assert limits.now() == 42.0
    assert limits.allow("k", "data") and not limits.allow("k", "data")
    limits.reset()
    assert limits.allow("k", "data")
    limits.enabled = False
    assert all(limits.allow("k", "data") for _ in range(5))
