"""The CLI's one progress display, for the contract download and long history fetches.

A single line on stderr, redrawn in place while a stage runs and ended with a newline
when the stage changes or the work is done. When stderr is not a terminal nothing is
drawn (a log file or a pipe gets no carriage-return noise). With rich installed
(``pip install 'mstock-openalgo[cli]'``) rich draws the bars; the callback interface and
the figures shown are the same either way.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from typing import Any, TextIO

# Stages whose counts are bytes; every other stage counts items (rows, calls).
_BYTE_STAGES = frozenset({"download"})
_UNITS = {"history": "calls"}


def amount_text(stage: str, done: int, total: int | None) -> str:
    """``12.3/45.6 MB`` for byte stages, ``120/400 rows`` (or the stage's unit) otherwise."""
    if stage in _BYTE_STAGES:
        return f"{done / 1e6:.1f} MB" if not total else f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
    unit = _UNITS.get(stage, "rows")
    return f"{done} {unit}" if not total else f"{done}/{total} {unit}"


class ProgressBar:
    """``bar(stage, done, total)`` draws ``stage [####....] done/total unit``.

    Use it as a context manager (or call :meth:`close`) so a line left open is ended.
    """

    def __init__(self, stream: TextIO | None = None, width: int = 30, *, use_rich: bool | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._width = width
        self._enabled = bool(getattr(self._stream, "isatty", lambda: False)())
        self._stage: str | None = None
        if use_rich is None:
            use_rich = self._enabled and importlib.util.find_spec("rich") is not None
        self._rich: _RichBars | None = _RichBars(self._stream) if (self._enabled and use_rich) else None

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if not self._enabled:
            return
        if self._rich is not None:
            self._rich.update(stage, done, total)
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
        if self._rich is not None:
            self._rich.stop()
            return
        if self._enabled and self._stage is not None:
            self._stream.write("\n")
            self._stream.flush()
        self._stage = None

    def _line(self, stage: str, done: int, total: int | None) -> str:
        amount = amount_text(stage, done, total)
        if total:
            filled = int(self._width * min(done, total) / total)
            return f"{stage:<9} [{'#' * filled}{'.' * (self._width - filled)}] {amount}".ljust(self._width + 40)
        return f"{stage:<9} {amount}".ljust(self._width + 40)


class _RichBars:
    """rich's progress bars behind the same callback (no refresh thread: redrawn on each call)."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            TextColumn("{task.fields[amount]}"),
            console=Console(file=stream),
            auto_refresh=False,
        )
        self._tasks: dict[str, Any] = {}
        self._started = False

    def update(self, stage: str, done: int, total: int | None) -> None:
        if not self._started:
            self._progress.start()
            self._started = True
        task = self._tasks.get(stage)
        if task is None:
            task = self._tasks[stage] = self._progress.add_task(stage, total=total, amount="")
        self._progress.update(task, completed=done, total=total, amount=amount_text(stage, done, total))
        self._progress.refresh()

    def stop(self) -> None:
        if self._started:
            self._progress.stop()
            self._started = False
