"""The CLI's one progress display, for the contract download and long history fetches.

A single line on stderr, redrawn in place while a stage runs and ended with a newline
when the stage changes or the work is done. When stderr is not a terminal nothing is
drawn (a log file or a pipe gets no carriage-return noise).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

# Stages whose counts are bytes; every other stage counts items (rows, calls).
_BYTE_STAGES = frozenset({"download"})
_UNITS = {"history": "calls"}


class ProgressBar:
    """``bar(stage, done, total)`` draws ``stage [####....] done/total unit``."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._width = width
        self._enabled = bool(getattr(self._stream, "isatty", lambda: False)())
        self._stage: str | None = None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if not self._enabled:
            return
        if self._stage is not None and stage != self._stage:
            self._stream.write("\n")
        self._stage = stage
        self._stream.write("\r" + self._line(stage, done, total))
        if total is not None and done >= total:
            self._stream.write("\n")
            self._stage = None
        self._stream.flush()

    def for_stage(self, stage: str) -> Callable[[int, int | None], None]:
        """A ``(done, total)`` callback reporting under ``stage`` (history, byte streams)."""
        return lambda done, total: self(stage, done, total)

    def close(self) -> None:
        """End a line left open (a stage whose total was unknown)."""
        if self._enabled and self._stage is not None:
            self._stream.write("\n")
            self._stream.flush()
        self._stage = None

    def _line(self, stage: str, done: int, total: int | None) -> str:
        if stage in _BYTE_STAGES:
            amount = f"{done / 1e6:.1f} MB" if not total else f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
        else:
            unit = _UNITS.get(stage, "rows")
            amount = f"{done} {unit}" if not total else f"{done}/{total} {unit}"
        if total:
            filled = int(self._width * min(done, total) / total)
            return f"{stage:<9} [{'#' * filled}{'.' * (self._width - filled)}] {amount}".ljust(self._width + 40)
        return f"{stage:<9} {amount}".ljust(self._width + 40)
