"""The client-side limiter: documented windows, shared across threads, bounded waits."""

from __future__ import annotations

import threading

import pytest

from broker.mstock.errors import RateLimited
from broker.mstock.transport.ratelimit import DOCUMENTED_LIMITS, RateLimiter
from broker.mstock.transport.routes import Category


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def test_documented_limits_match_spec_2_1():
    assert DOCUMENTED_LIMITS[Category.ORDER] == ((30, 1.0), (250, 60.0), (1000, 3600.0))
    assert DOCUMENTED_LIMITS[Category.DATA] == ((1, 1.0), (1000, 60.0), (5000, 3600.0))
    assert DOCUMENTED_LIMITS[Category.QUOTE] == ((20, 1.0),)


def test_data_calls_are_paced_one_per_second():
    clock = FakeClock()
    limiter = RateLimiter(margins={}, clock=clock, sleep=clock.sleep)
    waits = [limiter.acquire(Category.DATA) for _ in range(4)]
    assert waits == [0.0, 1.0, 1.0, 1.0]
    assert clock.now == 1003.0


def test_thirty_orders_per_second_then_wait():
    clock = FakeClock()
    limiter = RateLimiter(margins={}, clock=clock, sleep=clock.sleep)
    waits = [limiter.acquire(Category.ORDER) for _ in range(31)]
    assert waits[:30] == [0.0] * 30
    assert waits[30] == 1.0


def test_order_windows_have_a_margin_for_network_jitter():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    waits = [limiter.acquire(Category.ORDER) for _ in range(31)]
    assert waits[30] == pytest.approx(1.1)
    assert [limiter.acquire(Category.DATA) for _ in range(2)] == [0.0, 1.0]


def test_minute_window_applies_after_per_second_bursts():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    for _ in range(250):
        limiter.acquire(Category.ORDER, max_wait=120)
    start = clock.now
    limiter.acquire(Category.ORDER, max_wait=120)
    # The 251st order must wait until the first of the 250 leaves the 60 s window.
    assert clock.now - 1000.0 >= 60.0
    assert clock.now > start


def test_hourly_budget_exhaustion_raises_instead_of_hanging():
    clock = FakeClock()
    limiter = RateLimiter({Category.ORDER: ((2, 3600.0),)}, margins={}, clock=clock, sleep=clock.sleep)
    limiter.acquire(Category.ORDER)
    limiter.acquire(Category.ORDER)
    with pytest.raises(RateLimited):
        limiter.acquire(Category.ORDER, max_wait=5.0)


def test_unlimited_category_never_waits():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    assert sum(limiter.acquire(Category.OTHER) for _ in range(1000)) == 0.0


def test_limit_is_shared_across_threads():
    clock = FakeClock()
    limiter = RateLimiter({Category.QUOTE: ((20, 1.0),)}, clock=clock, sleep=clock.sleep)
    barrier = threading.Barrier(10)

    def worker() -> None:
        barrier.wait()
        for _ in range(5):
            limiter.acquire(Category.QUOTE)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 50 quote calls at 20/s need at least two full extra seconds of (fake) time.
    assert clock.now - 1000.0 >= 2.0
