"""Fault injection for tests: what a real network and a real broker do on a bad day.

``server.faults.inject(route, kind, times=1, **params)`` arms a fault for the next
``times`` requests to ``route`` (a route name such as ``"orders.place"``, or ``"*"`` for
any route; ``times=None`` keeps it armed until :meth:`FaultInjector.clear`). Kinds:

* ``latency`` (``seconds=``): answer late; the request is handled normally.
* ``drop_response``: execute the request, then close the connection without answering
  (a placed order whose confirmation never arrives).
* ``http_error`` (``status=``, ``body=`` str/bytes/JSON, ``execute=False``): answer with
  that status and body instead of the real answer (after executing it when ``execute``).
* ``html`` (``status=502``, ``execute=False``): a gateway's HTML error page.
* ``expire_session``: the caller's session expires just before the request is checked.
* ``rate_limit``: answer HTTP 429 as if a limit were exceeded.
* ``ip_not_whitelisted``: answer IA403 "Primary and Secondary IP Address are not matching
  with current IP address." (spec 2.4), as for a call from an unregistered address.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = frozenset(
    {"latency", "drop_response", "http_error", "html", "expire_session", "rate_limit", "ip_not_whitelisted"}
)
# Order of application when several faults hit the same request.
_ORDER = ("latency", "ip_not_whitelisted", "expire_session", "rate_limit", "http_error", "html", "drop_response")


@dataclass
class Fault:
    route: str
    kind: str
    remaining: int | None
    params: dict[str, Any] = field(default_factory=dict)


class FaultInjector:
    def __init__(self, routes: Iterable[str]) -> None:
        self._routes = frozenset(routes)
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def inject(self, route: str, kind: str, *, times: int | None = 1, **params: Any) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {sorted(FAULT_KINDS)}")
        if route != "*" and route not in self._routes:
            raise ValueError(f"unknown sandbox route {route!r}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for until cleared)")
        fault = Fault(route, kind, times, dict(params))
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, route: str) -> list[Fault]:
        """Consume the faults armed for one request to ``route``, in application order."""
        taken: list[Fault] = []
        with self._lock:
            for fault in list(self._faults):
                if fault.route not in ("*", route) or any(f.kind == fault.kind for f in taken):
                    continue
                taken.append(fault)
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
        return sorted(taken, key=lambda f: _ORDER.index(f.kind))

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
