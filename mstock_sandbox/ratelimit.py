"""Server-side enforcement of the documented rate limits (spec 2.1), per API key and category.

Order APIs 30/s, 250/min, 1000/h; data APIs (historical, intraday) 1/s, 1000/min,
5000/h; quote API 20/s. A refused request is answered with HTTP 429 and an [INVENTED]
IA429 body (no source shows mStock's real answer). Refused requests are not counted.
"""

from __future__ import annotations

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
    """Sliding windows per (API key, category). ``clock`` is monotonic seconds."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        data_window: float = 0.95,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled = enabled
        self._clock = clock
        # A client pacing data calls at exactly 1/s must not be refused for scheduler
        # jitter, so the one-second data window is slightly shorter than a second.
        self._limits = dict(LIMITS)
        self._limits["data"] = ((1, data_window),) + LIMITS["data"][1:]
        self._history: dict[tuple[str, str], list[deque[float]]] = {}
        self._lock = threading.Lock()

    def allow(self, api_key: str, category: str | None) -> bool:
        """Record one request and return True, or return False if a window is full."""
        if not self.enabled or category not in self._limits:
            return True
        windows = self._limits[category]
        with self._lock:
            now = self._clock()
            stamps = self._history.setdefault((api_key, category), [deque() for _ in windows])
            for (limit, period), queue in zip(windows, stamps):
                while queue and queue[0] <= now - period:
                    queue.popleft()
                if len(queue) >= limit:
                    return False
            for queue in stamps:
                queue.append(now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._history.clear()
