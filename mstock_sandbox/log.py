"""A session log a developer can read: one line per request, never a secret.

``2025-01-15 11:02:03.125  POST  orders.place           200  placed 1141250115101 BUY 10 SBIN-EQ -> Traded``

Lines carry the time (IST), method, route name, HTTP status and a short outcome built by
the handlers from non-secret facts (order ids, symbols, codes). Tokens, API keys,
passwords, OTP/TOTP codes and request bodies are never written. Lines go to an optional
file and to a bounded in-memory list (:meth:`SessionLog.lines`).
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime
from collections.abc import Callable
from pathlib import Path


class SessionLog:
    def __init__(self, path: Path | str | None = None, *, keep: int = 5000) -> None:
        self._path = Path(path) if path else None
        self._lines: deque[str] = deque(maxlen=max(1, keep))
        self._lock = threading.Lock()
        self.echo: Callable[[str], object] | None = None  # e.g. print, for the CLI
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, when: datetime, method: str, route: str, status: int | str, outcome: str) -> str:
        outcome = " ".join(str(outcome).split())  # one line, whatever the handler wrote
        line = f"{when:%Y-%m-%d %H:%M:%S}.{when.microsecond // 1000:03d}  {method:<6} {route:<28} {status!s:>3}  {outcome}"
        self._write(line)
        return line

    def note(self, when: datetime, text: str) -> str:
        """A free-form line (server start, fault armed, reset)."""
        line = f"{when:%Y-%m-%d %H:%M:%S}.{when.microsecond // 1000:03d}  -- {' '.join(text.split())}"
        self._write(line)
        return line

    def _write(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)
            if self._path is not None:
                with self._path.open("a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
            if self.echo is not None:
                self.echo(line)

    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def clear(self) -> None:
        with self._lock:
            self._lines.clear()
