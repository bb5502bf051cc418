"""Server-side enforcement of the documented rate limits (spec 2.1), per API key and category.

Order APIs 30/s, 250/min, 1000/h; data APIs (historical, intraday) 1/s, 1000/min,
5000/h; quote API 20/s. A refused request is answered with an [INVENTED] IA429 body (no
source shows mStock's real answer; ``SandboxConfig.rate_limit_shape`` picks HTTP 429 or
200). Refused requests are not counted.

Requests are counted at their arrival (the server passes the moment it received the
request, before any simulated processing latency). By default the data API's second is
counted as ``data_window`` (0.95 s) to forgive a client's scheduling jitter; strict mode
(``SandboxConfig.strict_rate_limits``) counts every window exactly: at most N arrivals in
any window of the documented length.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import deque
from collections.abc import Callable

LIMITS: dict[str, tuple[tuple[int, float], ...]] = {
    "order": ((30, 1.0), (250, 60.0), (1000, 3600.0)),
    "data": ((1, 1.0), (1000, 60.0), (5000, 3600.0)),
    "quote": ((20, 1.0),),
}


class RateLimits:
    """Sliding windows per (API key, category).

    ``clock`` is monotonic seconds; it is a public attribute so a test can replace it
    with a fake clock (together with ``Dispatcher.sleep``) and count arrivals exactly.
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        data_window: float = 0.95,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled = enabled
        self.clock = clock
        # A client pacing data calls at exactly 1/s must not be refused for scheduler
        # jitter, so the one-second data window is slightly shorter than a second.
        self._limits = dict(LIMITS)
        self._limits["data"] = ((1, data_window),) + LIMITS["data"][1:]
        self._history: dict[tuple[str, str], list[deque[float]]] = {}
        self._lock = threading.Lock()

    def allow(self, api_key: str, category: str | None, *, at: float | None = None) -> bool:
        """Record one request arrived ``at`` (default: now) and return True, or False if a window is full."""
        if not self.enabled or category not in self._limits:
            return True
        windows = self._limits[category]
        with self._lock:
            now = self.clock() if at is None else at
            stamps = self._history.setdefault((api_key, category), [deque() for _ in windows])
            for (limit, period), queue in zip(windows, stamps):
                while queue and queue[0] <= now - period:
                    queue.popleft()
                if len(queue) >= limit:
                    return False
            for queue in stamps:
                if queue and queue[-1] > now:  # counted late, arrived earlier: keep arrival order
                    bisect.insort(queue, now)
                else:
                    queue.append(now)
            return True

    def now(self) -> float:
        """The limiter's clock (what an arrival time passed to :meth:`allow` must be read from)."""
        return self.clock()

    def reset(self) -> None:
        with self._lock:
            self._history.clear()
