"""Keeps a client's own connection pool warm while its session is live.

A server closes a keep-alive connection that stays idle longer than its idle timeout, and
the next request, often the first order after a quiet spell, then pays a new TCP + TLS
handshake (about 100-150 ms to mStock) before it is even sent. OpenAlgo's own keep-warm
pings through OpenAlgo's HTTP client, whose pool this plugin never uses, so the plugin
keeps its own (each :class:`~.client.MStockClient` owns one ``requests`` pool):

* when the pool has been idle for :attr:`KeepWarm.interval`, one cheap idempotent request
  goes through it: ``GET user/fundsummary``, a small read that also proves the session is
  alive. It is a non-trading route, never counted against the order limits;
* the interval stays below the server's idle timeout: three quarters of the ``timeout=N``
  a server announces in its ``Keep-Alive`` header, else :data:`DEFAULT_INTERVAL` (the
  cadence of OpenAlgo's own keep-warm). Real traffic postpones the ping;
* it stops at logout (the client is closed), when the session expires (an authentication
  error, or IST midnight, when mStock tokens die, spec 2.2), when the host no longer holds
  this session (logged out in OpenAlgo; asked at most every :data:`LIVENESS_INTERVAL`), and
  when the client is dropped;
* it runs on one daemon thread per client, started by the first successful authenticated
  request (never at import), and :meth:`KeepWarm.stop` ends it at once.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import datetime

from ..clock import next_ist_midnight, now_ist
from ..errors import AuthError, MStockError
from ..host import get_logger

log = get_logger(__name__)

DEFAULT_INTERVAL = 20.0  # seconds between pings when the server announces no idle timeout
# How often to ask the host whether it still holds the session (a database read when hosted;
# OpenAlgo's own keep-alive re-reads its active broker as rarely).
LIVENESS_INTERVAL = 300.0
SHARE_OF_IDLE_TIMEOUT = 0.75  # ping at this share of the announced idle timeout
# Never more than one ping a second: a server that closes idle connections faster than that
# gains nothing from being pinged harder, and the fund summary is a real read on mStock's side.
MIN_INTERVAL = 1.0
_TIMEOUT = re.compile(r"(?:^|[,;\s])timeout\s*=\s*([0-9]+(?:\.[0-9]+)?)", re.IGNORECASE)

_enabled_lock = threading.Lock()
_enabled = True


def set_enabled(flag: bool) -> None:
    """Whether clients from the shared registry keep their pool warm (tests, benchmarks)."""
    global _enabled
    with _enabled_lock:
        _enabled = bool(flag)


def enabled() -> bool:
    with _enabled_lock:
        return _enabled


def idle_timeout(header: str | None) -> float | None:
    """The ``timeout=N`` of a ``Keep-Alive`` header (``"timeout=5, max=100"`` -> 5.0), else ``None``."""
    match = _TIMEOUT.search(header or "")
    if match is None:
        return None
    value = float(match.group(1))
    return value if value > 0 else None


class KeepWarm:
    """The keep-warm of one client. ``ping`` sends the keep-warm request (raising on failure).

    ``still_live`` tells whether the host still holds this session; ``clock`` (monotonic
    seconds) and ``now`` (aware wall time) are injectable for tests.
    """

    def __init__(
        self,
        ping: Callable[[], None],
        *,
        still_live: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = now_ist,
        name: str = "mstock-keepwarm",
    ) -> None:
        self._ping = ping
        self._still_live = still_live
        self._clock = clock
        self._now = now
        self._name = name
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_activity = clock()
        self._interval = DEFAULT_INTERVAL
        self._expires_at = next_ist_midnight(now())
        self._next_liveness_check = clock()
        self.pings = 0

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped" if self._stopped.is_set() else "idle"
        return f"<KeepWarm {state} every {self._interval:g}s>"

    @property
    def interval(self) -> float:
        with self._lock:
            return self._interval

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._stopped.is_set()

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def note_activity(self, keep_alive_header: str | None = None) -> None:
        """A response came through the pool (and maybe told us the server's idle timeout)."""
        timeout = idle_timeout(keep_alive_header)
        with self._lock:
            self._last_activity = self._clock()
            if timeout is not None:
                self._interval = max(MIN_INTERVAL, timeout * SHARE_OF_IDLE_TIMEOUT)

    def start(self) -> None:
        """Start the daemon thread once; a stopped keep-warm stays stopped."""
        with self._lock:
            if self._thread is not None or self._stopped.is_set():
                return
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        log.debug("keep-warm started (%s)", self)

    def stop(self, *, join: float | None = None) -> None:
        """Stop at once (idempotent); ``join`` waits up to that many seconds for the thread."""
        self._stopped.set()
        thread = self._thread
        if join and thread is not None and thread is not threading.current_thread():
            thread.join(join)

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        while True:
            try:
                delay = self.step()
            except Exception as exc:  # noqa: BLE001 - logged and stopped: a traceback must not reach the user
                log.warning("keep-warm stopped after an unexpected error: %s: %s", type(exc).__name__, exc)
                break
            if delay is None or self._stopped.wait(delay):
                break
        self._stopped.set()

    def step(self) -> float | None:
        """One turn of the loop: ping if due; return the seconds until the next turn, or ``None`` to stop."""
        if self._stopped.is_set():
            return None
        if self._now() >= self._expires_at:
            log.info("keep-warm stopped: the mStock session ended at IST midnight")
            return None
        with self._lock:
            due = self._last_activity + self._interval
        wait = due - self._clock()
        if wait > 0:
            return wait
        if self._still_live is not None and self._clock() >= self._next_liveness_check:
            if not self._still_live():
                log.info("keep-warm stopped: the host no longer holds this mStock session (logged out)")
                return None
            self._next_liveness_check = self._clock() + LIVENESS_INTERVAL
        try:
            self._ping()
        except AuthError as exc:
            log.info("keep-warm stopped: the mStock session is no longer valid (%s)", exc)
            return None
        except MStockError as exc:
            # Unreachable for a moment: try again after an interval, the pool is cold anyway.
            log.debug("keep-warm ping failed: %s", exc)
            self.note_activity()
        self.pings += 1
        return self.interval
