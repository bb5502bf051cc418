"""Client-side rate limiting per mStock category (spec 2.1), shared by every thread.

Each category has several sliding windows (per second, minute, hour). ``reserve`` blocks
until every window has room, then records the request in all of them. Sleeping happens
outside the lock so other categories are never held up.

**Arrivals, not sends.** mStock counts a request when it arrives; we can only pace when we
send. A request sent at ``s`` arrives at ``s + d`` with a one-way delay ``d`` that varies
from request to request (network jitter, and our own threads waiting their turn before the
bytes leave). The server refuses the new request when the ``N``-th previous one arrived
less than a window ``W`` before it, i.e. when ``s_new - s_old < W + (d_old - d_new)``. So
each request is recorded not at its send time but at the latest moment it may have
*arrived*:

* while its answer is outstanding: ``send + margin``, where the margin is the jitter we
  tolerate;
* once an answer came back at ``r`` (:meth:`Slot.answered`), what the round trip proves.
  A request has certainly arrived before its answer left the server, so the bound is never
  later than ``r``: a quick answer tightens it (pacing then costs only the round trip and
  is safe whatever the jitter). A round trip no longer than the quickest recent one of the
  category plus the margin shows the request went out and travelled on time, so
  ``send + margin`` stands. A longer one does not (the request may have left late: a busy
  process, a congested link), so the bound moves to ``r``, at most :data:`LATE_CAP` after
  the send, so that a slow *server* cannot hold the next request back for long.

A new request may go when the ``N``-th latest of these bounds is at least ``W`` in the
past, because it cannot arrive before it is sent. A waiting request wakes one margin
early to look again: the answer it was waiting behind has usually come back by then.

**The margin.** It is an absolute time, the same for every window length: jitter does not
grow with the window. It must cover the jitter of a real network (tens of ms) for requests
still in flight, while the Data API's 1 request/s makes every millisecond cost 0.1 % of a
long history download (a year of 1-minute bars is 98 calls, pacing floor 97 s, to be kept
within 6 %). 50 ms for data and quotes covers 50 ms of jitter; a history call, whose
predecessor has normally been answered when it decides, pays the round trip instead. Orders
keep 100 ms: an order refused with 429 is not retried (invariant 1), a read is, and the
order budget is not paced by history, so the larger margin costs nothing there.

A request that first opens a new TCP + TLS connection goes out late by the handshake;
:mod:`.keepwarm` keeps the pool's connection open so that paced requests do not pay one.
"""

from __future__ import annotations

import bisect
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

# Seconds of arrival jitter each category tolerates (see the module docstring).
# Once answered, a request counts as arrived by its answer, at most this long after it was sent.
LATE_CAP = 0.25
_ROUND_TRIPS = 32  # answered requests per category whose round trips set the baseline

DEFAULT_MARGINS: dict[Category, float] = {
    Category.ORDER: 0.1,
    Category.DATA: 0.05,
    Category.QUOTE: 0.05,
}


class Slot:
    """One request's place in the windows; call :meth:`answered` when its reply arrives."""

    __slots__ = ("_limiter", "_category", "_sent", "_bound", "waited")

    def __init__(
        self, limiter: "RateLimiter | None", category: Category, sent: float, bound: float, waited: float
    ) -> None:
        self._limiter = limiter
        self._category = category
        self._sent = sent
        self._bound = bound
        self.waited = waited

    def answered(self) -> None:
        """The server answered: the request arrived no later than now."""
        limiter, self._limiter = self._limiter, None
        if limiter is not None:
            limiter._settle(self._category, self._sent, self._bound)


class RateLimiter:
    """Sliding-window limiter over arrival bounds. ``clock``/``sleep`` are injectable for tests."""

    def __init__(
        self,
        limits: Mapping[Category, Sequence[tuple[int, float]]] = DOCUMENTED_LIMITS,
        *,
        margins: Mapping[Category, float] = DEFAULT_MARGINS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._limits = {cat: tuple(windows) for cat, windows in limits.items()}
        self._margins = {cat: float(margins.get(cat, 0.0)) for cat in self._limits}
        # Per category and window: the latest possible arrival of each recent request, ascending.
        self._history: dict[Category, list[list[float]]] = {
            cat: [[] for _ in windows] for cat, windows in self._limits.items()
        }
        # Recent round trips per category: the quickest is what "on time" means.
        self._round_trips: dict[Category, deque[float]] = {cat: deque(maxlen=_ROUND_TRIPS) for cat in self._limits}
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def _wait_needed(self, category: Category, now: float) -> float:
        wait = 0.0
        for (limit, period), bounds in zip(self._limits.get(category, ()), self._history.get(category, ())):
            # Requests that arrived by now - period are out of the server's window too.
            del bounds[: bisect.bisect_right(bounds, now - period)]
            if len(bounds) >= limit:
                wait = max(wait, bounds[len(bounds) - limit] + period - now)
        return wait

    def reserve(self, category: Category, *, max_wait: float = 30.0) -> Slot:
        """Block until a request in ``category`` may be sent; return its :class:`Slot`.

        Raises :class:`RateLimited` instead of waiting longer than ``max_wait`` (e.g. when
        the hourly order budget is spent), so a caller never hangs for minutes.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                wait = self._wait_needed(category, now)
                if wait <= 0:
                    windows = self._history.get(category, ())
                    if not windows:
                        return Slot(None, category, now, now, waited)
                    bound = now + self._margins.get(category, 0.0)
                    for bounds in windows:
                        bisect.insort(bounds, bound)
                    return Slot(self, category, now, bound, waited)
            if waited + wait > max_wait:
                raise RateLimited(
                    f"mStock's {category.value} rate limit reached (counted here, before sending): "
                    f"next free slot in {wait:.1f}s"
                )
            # Wake up one margin early: an answer that came back meanwhile may have
            # tightened the bound this wait was computed from.
            margin = self._margins.get(category, 0.0)
            nap = wait - margin if wait > 2 * margin else wait
            self._sleep(nap)
            waited += nap

    def acquire(self, category: Category, *, max_wait: float = 30.0) -> float:
        """Like :meth:`reserve` for a caller that never reports the answer; returns the seconds waited."""
        return self.reserve(category, max_wait=max_wait).waited

    def _settle(self, category: Category, sent: float, bound: float) -> None:
        """Replace a request's provisional bound by what its answer proves (see the module docstring)."""
        with self._lock:
            now = self._clock()
            margin = self._margins.get(category, 0.0)
            recent = self._round_trips.setdefault(category, deque(maxlen=_ROUND_TRIPS))
            on_time = bool(recent) and now - sent <= min(recent) + margin
            recent.append(now - sent)
            settled = min(now, sent + (margin if on_time else max(LATE_CAP, margin)))
            if settled == bound:
                return
            for bounds in self._history.get(category, ()):
                index = bisect.bisect_left(bounds, bound)
                if index < len(bounds) and bounds[index] == bound:
                    del bounds[index]
                    bisect.insort(bounds, settled)


class Unlimited(RateLimiter):
    """A limiter that never waits (unit tests, and the sandbox's own clients)."""

    def __init__(self) -> None:
        super().__init__({})

    def reserve(self, category: Category, *, max_wait: float = 30.0) -> Slot:
        return Slot(None, category, 0.0, 0.0, 0.0)


class LazyLimiter:
    """A limiter shared by every thread and built on first use (nothing at import time).

    Calling it returns the limiter; :meth:`replace` installs another one (tests,
    benchmarks), and ``None`` has a fresh one built on the next call.
    """

    def __init__(self, build: Callable[[], RateLimiter]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._limiter: RateLimiter | None = None

    def __call__(self) -> RateLimiter:
        with self._lock:
            if self._limiter is None:
                self._limiter = self._build()
            return self._limiter

    def replace(self, limiter: RateLimiter | None) -> None:
        with self._lock:
            self._limiter = limiter


_default = LazyLimiter(RateLimiter)


def default_limiter() -> RateLimiter:
    """The process-wide limiter used by every client unless one is injected."""
    return _default()


def set_default_limiter(limiter: RateLimiter | None) -> None:
    """Replace the process-wide limiter (tests, benchmarks). ``None`` restores the default."""
    _default.replace(limiter)
