"""Where the CLI's output goes: data on stdout, one-line errors and notes on stderr.

One :class:`Console` per run decides, once, whether stdout is a terminal, how wide it is,
whether colour is wanted (only on a terminal, never with ``NO_COLOR`` or ``TERM=dumb``),
and whether the user asked for ``--json``. Commands hand it data; it prints a table, key
and value pairs, or JSON with stable keys.

:class:`PipeGuard` wraps stdout and stderr for the run: when the reader goes away
(``... | head``) the rest of the output is dropped quietly instead of ending in a
``BrokenPipeError`` traceback, and the command still finishes its work: an install or an
order must never stop half-way because nobody is reading any more.
"""

from __future__ import annotations

import contextvars
import json
import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TextIO

from ..redact import redact
from .table import Column, render_table

DEFAULT_WIDTH = 80

_RED, _GREEN, _YELLOW, _DIM, _RESET = "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[2m", "\x1b[0m"


class PipeGuard:
    """A text stream that turns a vanished reader into silence."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.reader_gone = False

    def write(self, text: str) -> int:
        if not self.reader_gone:
            try:
                self._stream.write(text)
            except BrokenPipeError:
                self._silence()
        return len(text)

    def flush(self) -> None:
        if not self.reader_gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._silence()

    def _silence(self) -> None:
        self.reader_gone = True
        # Point the file descriptor at the null device, so that the interpreter's own
        # flush at exit has somewhere to write (and prints nothing about a broken pipe).
        try:
            fd = self._stream.fileno()
        except (AttributeError, OSError, ValueError):
            return
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)

    def isatty(self) -> bool:
        return bool(getattr(self._stream, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self._stream.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def wants_colour(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (no-color.org)."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    if env.get("TERM") == "dumb":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def terminal_width(stream: TextIO) -> int:
    """The terminal's width when ``stream`` is one; otherwise 80 (pipes and files)."""
    if not getattr(stream, "isatty", lambda: False)():
        return DEFAULT_WIDTH
    return max(40, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars from pandas frames
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class Console:
    """The run's output settings and the few ways a command prints."""

    def __init__(
        self,
        out: TextIO | None = None,
        err: TextIO | None = None,
        *,
        json_mode: bool = False,
        colour: bool | None = None,
        width: int | None = None,
    ) -> None:
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.json_mode = json_mode
        self.is_terminal = bool(getattr(self.out, "isatty", lambda: False)())
        self.colour = wants_colour(self.out) if colour is None else colour
        self.err_colour = wants_colour(self.err) if colour is None else colour
        self.width = width if width is not None else terminal_width(self.out)

    @property
    def reader_gone(self) -> bool:
        return bool(getattr(self.out, "reader_gone", False))

    # ---------------------------------------------------------------- stdout

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def paragraph(self, text: str) -> None:
        """Prose wrapped to the console's width."""
        self.line("\n".join(textwrap.wrap(text, self.width)) if text else "")

    def json(self, data: Any) -> None:
        self.line(json.dumps(data, default=_json_default, ensure_ascii=False))

    def table(self, rows: Iterable[Mapping[str, Any]], columns: Sequence[Any] | None = None, *, title: str | None = None) -> None:
        render_table(self.out, list(rows), columns, title=title, width=self.width, terminal=self.is_terminal,
                     paint=self.paint, colour=self.colour)

    def kv(self, pairs: Mapping[str, Any], *, title: str | None = None) -> None:
        self.table(
            [{"field": k, "value": v} for k, v in pairs.items()],
            [Column("field"), Column("value")],
            title=title,
        )

    def show(self, data: Any, human: Callable[[], None]) -> None:
        """``--json``: ``data`` as one JSON document; otherwise ``human()`` prints it for people."""
        if self.json_mode:
            self.json(data)
        else:
            human()

    # ---------------------------------------------------------------- stderr

    def error(self, message: str) -> None:
        """One line on stderr, ``error: ...`` (red on a colour terminal), secrets masked."""
        text = " ".join(redact(message).split())  # one line, whatever the message held
        prefix = f"{_RED}error:{_RESET}" if self.err_colour else "error:"
        self.err.write(f"{prefix} {text}\n")
        self.err.flush()

    def note(self, message: str) -> None:
        """Information for the person at the terminal, kept out of the data on stdout (secrets masked)."""
        self.err.write(redact(message) + "\n")
        self.err.flush()

    # ---------------------------------------------------------------- styling

    def paint(self, text: str, style: str | None) -> str:
        if not self.colour or not style:
            return text
        code = {"red": _RED, "green": _GREEN, "yellow": _YELLOW, "dim": _DIM}.get(style)
        return f"{code}{text}{_RESET}" if code else text


_current: contextvars.ContextVar[Console | None] = contextvars.ContextVar("mstock_cli_console", default=None)


def console() -> Console:
    """The console of the running command (a plain one on sys.stdout outside ``main``)."""
    current = _current.get()
    return current if current is not None else Console()


def use_console(value: Console) -> contextvars.Token:
    return _current.set(value)


def release_console(token: contextvars.Token) -> None:
    _current.reset(token)


# Shorthands for the commands.


def print_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[Any] | None = None, *, title: str | None = None) -> None:
    console().table(rows, columns, title=title)


def print_kv(pairs: Mapping[str, Any], *, title: str | None = None) -> None:
    console().kv(pairs, title=title)


def show(data: Any, human: Callable[[], None]) -> None:
    console().show(data, human)
