"""Client-side rate limiting per mStock category (spec 2.1), shared by every thread.

Each category has several sliding windows (per second, minute, hour). ``acquire`` blocks
until every window has room, then records the request in all of them. Sleeping happens
outside the lock so other categories are never held up.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from ..errors import RateLimited
from .routes import Category

# (max requests, window seconds), spec 2.1.
DOCUMENTED_LIMITS: dict[Category, tuple[tuple[int, float], ...]] = {
    Category.ORDER: ((30, 1.0), (250, 60.0), (1000, 3600.0)),
    Category.DATA: ((1, 1.0), (1000, 60.0), (5000, 3600.0)),
    Category.QUOTE: ((20, 1.0),),
    Category.OTHER: (),
}


# Requests are counted here when sent but by mStock when they arrive; network jitter can
# squeeze sends of two neighbouring windows into one of the broker's seconds. An order
# refused with 429 is not retried (invariant 1), so order windows are widened by this
# margin. Reads that hit a 429 are simply retried, so their pacing stays at the floor.
DEFAULT_MARGINS: dict[Category, float] = {Category.ORDER: 0.1}


class RateLimiter:
    """Sliding-window limiter. ``clock``/``sleep`` are injectable for tests."""

    def __init__(
        self,
        limits: Mapping[Category, Sequence[tuple[int, float]]] = DOCUMENTED_LIMITS,
        *,
        margins: Mapping[Category, float] = DEFAULT_MARGINS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._limits = {
            cat: tuple((limit, period + margins.get(cat, 0.0)) for limit, period in windows)
            for cat, windows in limits.items()
        }
        self._history: dict[Category, list[deque[float]]] = {
            cat: [deque() for _ in windows] for cat, windows in self._limits.items()
        }
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def _wait_needed(self, category: Category, now: float) -> float:
        wait = 0.0
        for (limit, period), stamps in zip(self._limits.get(category, ()), self._history.get(category, ())):
            while stamps and stamps[0] <= now - period:
                stamps.popleft()
            if len(stamps) >= limit:
                wait = max(wait, stamps[len(stamps) - limit] + period - now)
        return wait

    def acquire(self, category: Category, *, max_wait: float = 30.0) -> float:
        """Block until a request in ``category`` may be sent; return the seconds waited.

        Raises :class:`RateLimited` instead of waiting longer than ``max_wait`` (e.g. when
        the hourly order budget is spent), so a caller never hangs for minutes.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                wait = self._wait_needed(category, now)
                if wait <= 0:
                    for stamps in self._history.get(category, ()):
                        stamps.append(now)
                    return waited
            if waited + wait > max_wait:
                raise RateLimited(
                    f"mStock's {category.value} rate limit reached (counted here, before sending): "
                    f"next free slot in {wait:.1f}s"
                )
            self._sleep(wait)
            waited += wait


class Unlimited(RateLimiter):
    """A limiter that never waits (unit tests, and the sandbox's own clients)."""

    def __init__(self) -> None:
        super().__init__({})

    def acquire(self, category: Category, *, max_wait: float = 30.0) -> float:
        return 0.0


_default_lock = threading.Lock()
_default: RateLimiter | None = None


def default_limiter() -> RateLimiter:
    """The process-wide limiter used by every client unless one is injected."""
    global _default
    with _default_lock:
        if _default is None:
            _default = RateLimiter()
        return _default


def set_default_limiter(limiter: RateLimiter | None) -> None:
    """Replace the process-wide limiter (tests, benchmarks). ``None`` restores the default."""
    global _default
    with _default_lock:
        _default = limiter
