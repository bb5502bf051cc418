"""The client-side limiter: documented windows, shared across threads, bounded waits."""

from __future__ import annotations

import random
import threading

import pytest

from broker.mstock.errors import RateLimited
from broker.mstock.transport.ratelimit import DEFAULT_MARGINS, DOCUMENTED_LIMITS, RateLimiter
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
    assert [limiter.acquire(Category.DATA) for _ in range(2)] == [0.0, pytest.approx(1.05)]


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


# --- arrival jitter (issue 11 item 1) ----------------------------------------------------
#
# mStock counts a request when it *arrives*; the client can only pace *sends*. A simulated
# server below counts arrivals strictly (at most N arrivals in any window of the documented
# length, refused requests not counted, like the sandbox's strict mode) while each request
# travels a random one-way delay. No wall clock: the limiter runs on FakeClock.


class ArrivalCountingServer:
    """Strict sliding windows over arrival times (spec 2.1), fed in arrival order."""

    def __init__(self, windows: tuple[tuple[int, float], ...]) -> None:
        self.windows = windows
        self.accepted: list[list[float]] = [[] for _ in windows]
        self.refused = 0

    def arrive(self, at: float) -> bool:
        for (limit, period), stamps in zip(self.windows, self.accepted):
            recent = [s for s in stamps if s > at - period]
            if len(recent) >= limit:
                self.refused += 1
                return False
        for stamps in self.accepted:
            stamps.append(at)
        return True

    def replay(self, arrivals: list[float]) -> int:
        for at in sorted(arrivals):
            self.arrive(at)
        return self.refused


# One-way delays of a real network: a base latency plus tens of ms of jitter.
BASE_DELAY, JITTER = 0.020, 0.045


def greedy_arrivals(limiter: RateLimiter, clock: FakeClock, category: Category, count: int, seed: int) -> list[float]:
    """Send ``count`` requests as fast as the limiter allows; return when each arrives."""
    rng = random.Random(seed)
    arrivals = []
    for _ in range(count):
        limiter.acquire(category, max_wait=3600)
        arrivals.append(clock.now + BASE_DELAY + rng.uniform(0.0, JITTER))
    return arrivals


@pytest.mark.parametrize("category", [Category.DATA, Category.QUOTE, Category.ORDER])
def test_every_category_has_a_margin_for_arrival_jitter(category):
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    count = {Category.DATA: 120, Category.QUOTE: 600, Category.ORDER: 400}[category]
    refused = sum(
        ArrivalCountingServer(DOCUMENTED_LIMITS[category]).replay(
            greedy_arrivals(limiter, clock, category, count, seed)
        )
        for seed in range(3)
    )
    assert refused == 0


def test_without_a_margin_jitter_breaks_an_arrival_counted_limit():
    # The failure the margin exists for: pacing sends at exactly the limit is not enough.
    clock = FakeClock()
    limiter = RateLimiter(margins={}, clock=clock, sleep=clock.sleep)
    arrivals = greedy_arrivals(limiter, clock, Category.QUOTE, 600, seed=1)
    assert ArrivalCountingServer(DOCUMENTED_LIMITS[Category.QUOTE]).replay(arrivals) > 0


def test_margins_are_small_enough_for_data_pacing():
    # A year of 1-minute bars is 98 calls at 1/s: the margin must stay well inside 6 %.
    assert 0.0 < DEFAULT_MARGINS[Category.DATA] <= 0.05
    assert 0.0 < DEFAULT_MARGINS[Category.QUOTE] <= 0.05
    assert DEFAULT_MARGINS[Category.ORDER] >= DEFAULT_MARGINS[Category.DATA]


def test_year_of_minute_bars_stays_within_six_percent_of_the_floor():
    """98 Data-API calls, each answered after a jittered round trip, against the 97 s floor."""
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    rng = random.Random(5)
    arrivals = []
    start = clock.now
    for _ in range(98):
        slot = limiter.reserve(Category.DATA)
        forward = BASE_DELAY + rng.uniform(0.0, JITTER)
        arrivals.append(clock.now + forward)
        clock.sleep(forward + 0.030 + BASE_DELAY)  # server work, then the answer travels back
        slot.answered()
    elapsed = clock.now - start
    floor = 97 * 1.0
    assert ArrivalCountingServer(DOCUMENTED_LIMITS[Category.DATA]).replay(arrivals) == 0
    assert elapsed <= floor * 1.06


def test_an_answer_bounds_the_arrival_so_a_fast_network_pays_less_than_the_margin():
    # The request certainly arrived before its answer came back: 5 ms later the next
    # data call only has to wait 1 s after that answer, not 1 s + the full margin.
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    slot = limiter.reserve(Category.DATA)
    clock.sleep(0.005)
    slot.answered()
    assert limiter.acquire(Category.DATA) == pytest.approx(1.0)
    # without an answer (a timeout, a dropped connection) the full margin applies
    limiter.reserve(Category.DATA)
    assert limiter.acquire(Category.DATA) == pytest.approx(1.0 + DEFAULT_MARGINS[Category.DATA])


def test_answers_out_of_order_keep_the_windows_exact():
    clock = FakeClock()
    limiter = RateLimiter({Category.QUOTE: ((2, 1.0),)}, margins={Category.QUOTE: 0.05}, clock=clock, sleep=clock.sleep)
    first = limiter.reserve(Category.QUOTE)
    clock.sleep(0.01)
    second = limiter.reserve(Category.QUOTE)
    clock.sleep(0.01)
    second.answered()  # answered at 0.02: arrived by then
    clock.sleep(0.01)
    first.answered()  # answered at 0.03, so arrived by then
    # arrival bounds are now 0.02 (second) and 0.03 (first): the third request may go once
    # the earlier bound is a full second old, at 1.02
    assert limiter.acquire(Category.QUOTE) == pytest.approx(1.02 - 0.03)


def test_an_answer_that_arrives_during_the_wait_shortens_it():
    clock = FakeClock()
    hooks = []

    def sleep(seconds: float) -> None:
        for hook in hooks:
            hook()
        hooks.clear()
        clock.sleep(seconds)

    limiter = RateLimiter(clock=clock, sleep=sleep)
    slot = limiter.reserve(Category.DATA)  # sent at 1000.00: may arrive until 1000.05

    def answer_comes_back() -> None:
        clock.sleep(0.01)
        slot.answered()  # answered at 1000.01
        clock.sleep(-0.01)

    hooks.append(answer_comes_back)
    # the next call goes one second after the answer (1001.01), not after send + margin (1001.05)
    assert limiter.acquire(Category.DATA) == pytest.approx(1.01)


def test_a_slow_answer_moves_the_bound_to_the_answer():
    # 120 ms for an answer: the request may have gone out late too (a busy process), so it
    # counts as arrived by the answer, and the next data call waits a second after that.
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    slot = limiter.reserve(Category.DATA)
    clock.sleep(0.12)
    slot.answered()
    assert limiter.acquire(Category.DATA) == pytest.approx(1.0)


def test_a_slow_server_holds_the_next_request_back_at_most_the_late_cap():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    slot = limiter.reserve(Category.DATA)  # sent at 1000.0
    clock.sleep(3.0)
    slot.answered()  # answered at 1003.0: counted as arrived by 1000.25
    assert limiter.acquire(Category.DATA) == 0.0


def test_a_late_answer_makes_jittered_arrivals_safe_even_beyond_the_margin():
    """Requests that go out up to 150 ms late (a starved thread) are never refused once answered."""
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    rng = random.Random(11)
    arrivals = []
    for _ in range(60):
        slot = limiter.reserve(Category.DATA)
        forward = rng.choice([0.01, 0.03, 0.15])  # sometimes far beyond the 50 ms margin
        arrivals.append(clock.now + forward)
        clock.sleep(forward + 0.02)
        slot.answered()
    assert ArrivalCountingServer(DOCUMENTED_LIMITS[Category.DATA]).replay(arrivals) == 0


def test_round_trips_like_the_quickest_recent_one_keep_the_pacing_at_send_plus_margin():
    # A 90 ms network: steady round trips prove requests leave on time, so each history call
    # pays the 50 ms margin, not the 90 ms round trip.
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    waits = []
    for rtt in (0.09, 0.09, 0.1, 0.09, 0.12):
        slot = limiter.reserve(Category.DATA)
        waits.append(slot.waited)
        clock.sleep(rtt)
        slot.answered()
    # the first answer has nothing to compare with, so the second waits a second after it;
    # from then on each call goes 1.05 s after the previous send
    assert waits == [0.0, pytest.approx(1.0), pytest.approx(0.96), pytest.approx(0.95), pytest.approx(0.96)]
